//! The use cases added for the account pages, on both backends: changing the password (the
//! current one is required, other sessions end, the change is audited), the member's session
//! list, and the record of a skipped backup.

mod support;

use hiatus_domain::preflight::Intent;
use hiatus_domain::{AccountKind, Role};
use hiatus_service::{ServiceError, SignUp};
use support::env;

const OLD: &str = "a long enough password";
const NEW: &str = "another long enough password";

async fn password_change_needs_the_current_password(postgres: bool) {
    let e = env(postgres).await;
    let email = format!("p{}@example.com", uuid::Uuid::new_v4().simple());
    e.h.sign_up(
        SignUp {
            email: email.clone(),
            password: OLD.into(),
            legal_name: "P".into(),
            display_name: "P".into(),
            kind: AccountKind::Freelancer,
            headline: String::new(),
            bio: String::new(),
        },
        Role::Member,
    )
    .await
    .unwrap();
    let here = e.h.login(&email, OLD).await.unwrap();
    let elsewhere = e.h.login(&email, OLD).await.unwrap();
    let actor = e.h.authenticate(&here.token).await.unwrap();

    let sessions = e.h.my_sessions(&actor).await.unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);

    match e.h.change_password(&actor, "not the password", NEW).await {
        Err(ServiceError::Forbidden { code, .. }) => assert_eq!(code, "wrong_password"),
        other => panic!("expected wrong_password, got {other:?}"),
    }
    match e.h.change_password(&actor, OLD, "short").await {
        Err(ServiceError::Invalid { code, .. }) => assert_eq!(code, "weak_password"),
        other => panic!("expected weak_password, got {other:?}"),
    }
    match e.h.change_password(&actor, OLD, OLD).await {
        Err(ServiceError::Invalid { code, .. }) => assert_eq!(code, "password_unchanged"),
        other => panic!("expected password_unchanged, got {other:?}"),
    }
    // Nothing changed so far: both sessions live, the old password works.
    e.h.authenticate(&elsewhere.token).await.unwrap();
    assert_eq!(
        e.count_rows("audit_events", "action", "password.changed")
            .await,
        0
    );

    assert_eq!(e.h.change_password(&actor, OLD, NEW).await.unwrap(), 1);
    assert!(matches!(
        e.h.authenticate(&elsewhere.token).await,
        Err(ServiceError::Unauthorized)
    ));
    let still = e.h.authenticate(&here.token).await.unwrap();
    assert!(e.h.recently_reauthenticated(&still));
    assert!(matches!(
        e.h.login(&email, OLD).await,
        Err(ServiceError::BadCredentials)
    ));
    e.h.login(&email, NEW).await.unwrap();
    assert_eq!(
        e.count_rows("audit_events", "action", "password.changed")
            .await,
        1
    );
    e.finish().await;
}

async fn a_skipped_backup_is_recorded(postgres: bool) {
    let e = env(postgres).await;
    let f = e.freelancer().await;
    e.h.skip_backup(&f, Intent::Delete).await.unwrap();
    assert_eq!(
        e.count_rows("audit_events", "action", "closing.backup_skipped")
            .await,
        1
    );
    e.finish().await;
}

hiatus_testkit::on_both!(
    password_change_needs_the_current_password,
    a_skipped_backup_is_recorded
);
