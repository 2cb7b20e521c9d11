//! What each mail says: one template per kind of mail (`templates/mail/<kind>.txt`), its first
//! paragraph the subject and the rest the body. The body's paragraphs are written once and
//! become both the plain-text and the HTML body, between a greeting and a signature.

use crate::clock::format_date;
use askama::Template;
use std::fmt::{self, Write};

/// The events that are mailed to the member, and whether each is essential (sent even when
/// notifications are muted).
pub const MAILED: [(&str, bool); 19] = [
    ("account.deactivated", true),
    ("account.reactivated", true),
    ("account.deletion_scheduled", true),
    ("account.deletion_cancelled", true),
    ("account.deletion_reminder", true),
    ("break.started", false),
    ("break.ended", false),
    ("break.ending", false),
    ("export.expiring", true),
    ("export.ready", true),
    ("export.failed", true),
    ("export.expired", false),
    ("restoration.requested", true),
    ("restoration.approved", true),
    ("restoration.denied", true),
    ("account.password_changed", true),
    ("account.erased", true),
    ("account.signup_repeated", true),
    (crate::signup::EVENT_CONFIRM, true),
];

/// The kinds of mail hiatus sends: one template each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    AccountDeactivated,
    AccountReactivated,
    DeletionScheduled,
    DeletionReminder,
    DeletionCancelled,
    BreakStarted,
    BreakEnded,
    BreakEnding,
    ExportExpiring,
    ExportReady,
    ExportFailed,
    ExportExpired,
    RestorationRequested,
    RestorationApproved,
    RestorationDenied,
    PasswordChanged,
    AccountErased,
    SignupRepeated,
    SignupConfirm,
    ClientNotice,
}

impl MailKind {
    /// The mail of a lifecycle event, if the event has one.
    pub fn of(event: &str) -> Option<Self> {
        Some(match event {
            "account.deactivated" => Self::AccountDeactivated,
            "account.reactivated" => Self::AccountReactivated,
            "account.deletion_scheduled" => Self::DeletionScheduled,
            "account.deletion_reminder" => Self::DeletionReminder,
            "account.deletion_cancelled" => Self::DeletionCancelled,
            "break.started" => Self::BreakStarted,
            "break.ended" => Self::BreakEnded,
            "break.ending" => Self::BreakEnding,
            "export.expiring" => Self::ExportExpiring,
            "export.ready" => Self::ExportReady,
            "export.failed" => Self::ExportFailed,
            "export.expired" => Self::ExportExpired,
            "restoration.requested" => Self::RestorationRequested,
            "restoration.approved" => Self::RestorationApproved,
            "restoration.denied" => Self::RestorationDenied,
            "account.password_changed" => Self::PasswordChanged,
            "account.erased" => Self::AccountErased,
            "account.signup_repeated" => Self::SignupRepeated,
            crate::signup::EVENT_CONFIRM => Self::SignupConfirm,
            "client.notice" => Self::ClientNotice,
            _ => return None,
        })
    }
}

/// A rendered message.
#[derive(Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// What a value's newlines become in a rendered template, so that only the template's own
/// blank lines separate paragraphs (a message's blank lines stay inside its paragraph).
const NEWLINE: &str = "\u{E000}n";
/// What the marker character itself becomes in a value.
const MARKER: char = '\u{E000}';
const MARKER_ITSELF: &str = "\u{E000}\u{E000}";

/// The escaper of mail templates: values are shown as they are, their newlines marked (see
/// [`NEWLINE`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Values;

impl askama::filters::Escaper for Values {
    fn write_escaped_str<W: Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '\n' => dest.write_str(NEWLINE)?,
                MARKER => dest.write_str(MARKER_ITSELF)?,
                c => dest.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A paragraph of a rendered template, with its values' newlines back.
fn unmark(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c != MARKER {
            out.push(c);
        } else if let Some(next) = chars.next() {
            out.push(if next == 'n' { '\n' } else { next });
        }
    }
    out
}

/// The templates, with what each shows.
#[derive(Template)]
#[template(escape = "mail")]
enum Body<'a> {
    #[template(path = "mail/account_deactivated.txt")]
    AccountDeactivated { url: &'a str },
    #[template(path = "mail/account_reactivated.txt")]
    AccountReactivated,
    #[template(path = "mail/deletion_scheduled.txt")]
    DeletionScheduled {
        url: &'a str,
        due: String,
        cancel_url: Option<&'a str>,
    },
    #[template(path = "mail/deletion_reminder.txt")]
    DeletionReminder {
        url: &'a str,
        due: String,
        cancel_url: Option<&'a str>,
        days_left: Option<i64>,
    },
    #[template(path = "mail/deletion_cancelled.txt")]
    DeletionCancelled,
    #[template(path = "mail/break_started.txt")]
    BreakStarted { until: Option<String> },
    #[template(path = "mail/break_ended.txt")]
    BreakEnded,
    #[template(path = "mail/break_ending.txt")]
    BreakEnding { url: &'a str, until: String },
    #[template(path = "mail/export_expiring.txt")]
    ExportExpiring { url: &'a str, expires_at: String },
    #[template(path = "mail/export_ready.txt")]
    ExportReady { url: &'a str },
    #[template(path = "mail/export_failed.txt")]
    ExportFailed { url: &'a str },
    #[template(path = "mail/export_expired.txt")]
    ExportExpired { url: &'a str },
    #[template(path = "mail/restoration_requested.txt")]
    RestorationRequested { code: &'a str },
    #[template(path = "mail/restoration_approved.txt")]
    RestorationApproved { until: String, link: &'a str },
    #[template(path = "mail/restoration_denied.txt")]
    RestorationDenied { url: &'a str, note: Option<&'a str> },
    #[template(path = "mail/password_changed.txt")]
    PasswordChanged,
    #[template(path = "mail/account_erased.txt")]
    AccountErased {
        erased_at: String,
        summary: Vec<&'a str>,
    },
    #[template(path = "mail/signup_repeated.txt")]
    SignupRepeated { url: &'a str },
    #[template(path = "mail/signup_confirm.txt")]
    SignupConfirm { until: String, link: &'a str },
    #[template(path = "mail/client_notice.txt")]
    ClientNotice {
        url: &'a str,
        from: &'a str,
        message: &'a str,
    },
}

impl<'a> Body<'a> {
    /// What the template of `kind` shows, from the event's payload.
    fn new(kind: MailKind, payload: &'a serde_json::Value, url: &'a str) -> Self {
        let date = |field: &str| payload[field].as_i64().map(format_date);
        let text = |field: &str| payload[field].as_str();
        match kind {
            MailKind::AccountDeactivated => Body::AccountDeactivated { url },
            MailKind::AccountReactivated => Body::AccountReactivated,
            MailKind::DeletionScheduled => Body::DeletionScheduled {
                url,
                due: date("due_at").unwrap_or_else(|| "the end of the grace period".into()),
                cancel_url: text("cancel_url"),
            },
            MailKind::DeletionReminder => Body::DeletionReminder {
                url,
                due: date("due_at").unwrap_or_else(|| "the end of the grace period".into()),
                cancel_url: text("cancel_url"),
                days_left: payload["days_left"].as_i64(),
            },
            MailKind::DeletionCancelled => Body::DeletionCancelled,
            MailKind::BreakStarted => Body::BreakStarted {
                until: date("until"),
            },
            MailKind::BreakEnding => Body::BreakEnding {
                url,
                until: date("until").unwrap_or_else(|| "its end date".into()),
            },
            MailKind::BreakEnded => Body::BreakEnded,
            MailKind::ExportExpiring => Body::ExportExpiring {
                url,
                expires_at: date("expires_at").unwrap_or_else(|| "tomorrow".into()),
            },
            MailKind::ExportReady => Body::ExportReady { url },
            MailKind::ExportFailed => Body::ExportFailed { url },
            MailKind::ExportExpired => Body::ExportExpired { url },
            MailKind::SignupRepeated => Body::SignupRepeated { url },
            MailKind::SignupConfirm => Body::SignupConfirm {
                until: date("confirm_until").unwrap_or_else(|| "two days from the sign-up".into()),
                link: text("confirm_url").unwrap_or(url),
            },
            MailKind::RestorationRequested => Body::RestorationRequested {
                code: text("code").unwrap_or("(no code)"),
            },
            MailKind::RestorationApproved => Body::RestorationApproved {
                until: date("reset_until").unwrap_or_else(|| "tomorrow".into()),
                link: text("reset_url").unwrap_or(url),
            },
            MailKind::RestorationDenied => Body::RestorationDenied {
                url,
                note: text("note").filter(|n| !n.is_empty()),
            },
            MailKind::PasswordChanged => Body::PasswordChanged,
            MailKind::AccountErased => Body::AccountErased {
                erased_at: date("erased_at").unwrap_or_else(|| "today".into()),
                summary: payload["summary"]
                    .as_array()
                    .map(|lines| lines.iter().filter_map(|l| l.as_str()).collect())
                    .unwrap_or_default(),
            },
            // `from_name` and `message` are filled in when the mail is sent (see
            // `Hiatus::fill_notice`), never stored in the queue.
            MailKind::ClientNotice => Body::ClientNotice {
                url,
                from: text("from_name").unwrap_or("A freelancer you worked with"),
                message: text("message").unwrap_or_default(),
            },
        }
    }
}

/// Renders the template of `kind` for a member called `name`. The paragraphs are written once
/// and become both the plain-text and the HTML body.
pub fn render(
    kind: &str,
    name: &str,
    payload: &serde_json::Value,
    public_url: &str,
) -> Option<Rendered> {
    let kind = MailKind::of(kind)?;
    let url = public_url.trim_end_matches('/');
    let rendered = match Body::new(kind, payload, url).render() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(kind = ?kind, error = %e, "a mail template failed to render");
            return None;
        }
    };
    let mut parts = rendered.split("\n\n").map(unmark);
    let subject = parts.next().unwrap_or_default();
    let paragraphs: Vec<String> = parts.collect();
    let greeting = if name.is_empty() {
        "Hello,".to_string()
    } else {
        format!("Hello {name},")
    };
    let sign = "— hiatus";
    let text = std::iter::once(greeting.clone())
        .chain(paragraphs.iter().cloned())
        .chain(std::iter::once(sign.to_string()))
        .collect::<Vec<_>>()
        .join("\n\n")
        + "\n";
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif; line-height: 1.5\">{}</body></html>\n",
        std::iter::once(&greeting)
            .chain(paragraphs.iter())
            .chain(std::iter::once(&sign.to_string()))
            .map(|p| format!("<p>{}</p>", escape(p)))
            .collect::<String>()
    );
    Some(Rendered {
        subject,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_escape_html_and_say_what_to_do() {
        let r = render(
            "account.deletion_scheduled",
            "Ana <b>",
            &serde_json::json!({"due_at": 1_800_000_000_000_000i64}),
            "https://hiatus.example.com/",
        )
        .unwrap();
        assert_eq!(r.subject, "Your account will be deleted on 2027-01-15");
        assert!(r.text.starts_with("Hello Ana <b>,"));
        assert!(r.text.contains(
            "Log in at https://hiatus.example.com before 2027-01-15 and choose Cancel deletion"
        ));
        assert!(r.html.contains("Hello Ana &lt;b&gt;,") && !r.html.contains("<b>"));
        for (kind, _) in MAILED {
            assert!(
                render(kind, "x", &serde_json::Value::Null, "http://h").is_some(),
                "{kind}"
            );
        }
        assert!(render("account.sneezed", "x", &serde_json::Value::Null, "http://h").is_none());
    }
}
