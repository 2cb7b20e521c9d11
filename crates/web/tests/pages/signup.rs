//! Signing up in the browser: the form ends on "check your mail" whatever the address, the
//! account logs in only after the mailed link's page took the password chosen at sign-up, and
//! the forms carry their token.

use crate::browser::{Browser, forms};
use crate::support::{PASSWORD, TestApp, on_both_backends_with_mail};

on_both_backends_with_mail!(signing_up_in_the_browser_confirms_with_the_mailed_link);

fn fields<'a>(email: &'a str, password: &'a str, confirm: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("email", email),
        ("password", password),
        ("confirm", confirm),
        ("legal_name", "Ada Example"),
        ("display_name", "Ada"),
        ("kind", "both"),
    ]
}

/// The link's token in the newest confirmation mail to `email`.
fn link_in_mail(t: &TestApp, email: &str) -> String {
    let mail = t.mail_to(email);
    let text = mail
        .iter()
        .find(|m| m.contains("Confirm your address"))
        .expect("a confirmation mail");
    let at = text.find("/signup/confirm/").expect("a link") + "/signup/confirm/".len();
    text[at..at + 64].to_string()
}

async fn signing_up_in_the_browser_confirms_with_the_mailed_link(t: &TestApp) {
    let registered = t.member("client").await;
    let b = Browser::new(t);
    b.get("/login").await.expect(200).says("href=\"/signup\"");
    let page = b.get("/signup").await;
    page.expect(200).says("<label for=\"legal_name\">");
    let form = forms(&page.body)
        .into_iter()
        .find(|f| f.action == "/signup")
        .expect("the sign-up form");
    assert_eq!(form.method, "post");
    assert!(form.hidden("csrf").is_some_and(|v| !v.is_empty()));
    // Without the form token (another site's form), nothing happens.
    let email = "ada@example.test";
    b.post("/signup", &fields(email, PASSWORD, PASSWORD))
        .await
        .expect(403)
        .says("This form cannot be accepted");
    b.submit(
        "/signup",
        "/signup",
        &fields(email, PASSWORD, "another password"),
    )
    .await
    .expect(422)
    .says("The two passwords are not the same.")
    .never_says(PASSWORD);

    // A free address and a registered one end on the same page.
    let sent = b
        .submit("/signup", "/signup", &fields(email, PASSWORD, PASSWORD))
        .await;
    sent.expect(200).says("Check your mail");
    let other = Browser::new(t);
    let again = other
        .submit(
            "/signup",
            "/signup",
            &fields(
                &registered.email,
                "someone else's password",
                "someone else's password",
            ),
        )
        .await;
    assert_eq!((again.status, &again.body), (sent.status, &sent.body));

    // Not before the address is confirmed; the hint says what to do.
    b.login(email, PASSWORD)
        .await
        .expect(401)
        .says("If you just signed up, open the link we mailed you first.");

    t.drain_jobs().await;
    let token = link_in_mail(t, email);
    let path = format!("/signup/confirm/{token}");
    // The person who opens the link: a fresh browser, as from a mail program.
    let mailbox = Browser::new(t);
    mailbox
        .get(&path)
        .await
        .expect(200)
        .says("Enter the password you chose when you signed up");
    mailbox
        .submit(&path, &path, &[("password", "not the password at all")])
        .await
        .expect(422)
        .says("That did not work.");
    mailbox
        .post(&path, &[("password", PASSWORD)])
        .await
        .expect(403);
    let home = mailbox
        .submit(&path, &path, &[("password", PASSWORD)])
        .await;
    home.expect(200)
        .says("Your account is <strong>Active</strong>");
    // The link is spent; logging in works from now on.
    mailbox
        .get(&path)
        .await
        .expect(410)
        .says("This link does not work any more");
    Browser::new(t).login(email, PASSWORD).await.expect(200);
    // The registered address's owner was told, and kept their password.
    assert!(
        t.mail_to(&registered.email)
            .iter()
            .any(|m| m.contains("You already have a hiatus account"))
    );
    t.login(&registered).await;
}
