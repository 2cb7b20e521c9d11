//! What every page shares: the layout's data, rendering with a status, redirects after a
//! POST, and errors of the use cases shown as pages in words a person understands.

use super::guard::{Fields, Member};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hiatus_domain::{Currency, Finding, Money, Role};
use hiatus_service::{ServiceError, ServiceResult};
use serde::Deserialize;

/// The data of the layout around every page.
pub struct Layout {
    /// The form token of this session (or of the login form).
    pub csrf: String,
    pub signed_in: bool,
    /// A confirmation to show at the top ("Saved."), after a redirect.
    pub notice: Option<&'static str>,
    /// Which part of the site the page belongs to, for the navigation's `aria-current`.
    pub section: &'static str,
    /// Support agents and operators see the support console in the navigation.
    pub staff: bool,
    /// Operators also see the dashboard.
    pub operator: bool,
}

impl Layout {
    /// The layout for a logged-in member.
    pub fn member(m: &Member, section: &'static str) -> Self {
        Self {
            csrf: m.csrf.clone(),
            signed_in: true,
            notice: None,
            section,
            staff: matches!(m.actor.role, Role::Support | Role::Operator),
            operator: m.actor.role == Role::Operator,
        }
    }

    /// The layout for someone not logged in.
    pub fn anonymous(csrf: String) -> Self {
        Self {
            csrf,
            signed_in: false,
            notice: None,
            section: "",
            staff: false,
            operator: false,
        }
    }

    /// Shows the confirmation that belongs to `code` (from `?ok=` after a redirect).
    pub fn with_notice(mut self, code: Option<&str>) -> Self {
        self.notice = code.and_then(notice);
        self
    }
}

/// The fixed confirmations a redirect can ask for; anything else shows nothing, so a link
/// cannot put words of its own on our pages.
fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "saved" => "Your changes are saved.",
        "logged_out" => "You are logged out.",
        "reactivated" => {
            "Welcome back: your account is active again, with your previous visibility and availability."
        }
        "deletion_cancelled" => {
            "The deletion is cancelled. Your account is active again, with everything as it was."
        }
        "reauthenticated" => {
            "Password confirmed. For the next few minutes you can confirm sensitive steps without entering it again."
        }
        "signed_out_others" => "Every other session is signed out.",
        "password_changed" => "Your password is changed, and every other session is signed out.",
        "break_started" => "Your break has started.",
        "break_ended" => "Your break has ended: you are available again.",
        "export_requested" => "Your export is being prepared. This page shows its progress.",
        "clients_told" => "Your message is on its way to the clients you chose.",
        "code_confirmed" => "The code is confirmed. A support agent will look at your request.",
        "approved" => "The request is approved: the member gets a link to choose a new password.",
        "denied" => "The request is denied: the member reads your note.",
        "payment_approved" => {
            "The work is approved: the payment now waits to be released to the freelancer."
        }
        "payment_released" => "The payment is released to the freelancer's balance.",
        "payment_refunded" => "The payment is refunded to the client.",
        "invoice_paid" => "The invoice is paid.",
        "withdrawal_scheduled" => {
            "Your withdrawal is scheduled. Your payouts show when it reaches your bank."
        }
        "proposal_withdrawn" => "It is withdrawn: it can no longer be accepted.",
        "proposal_declined" => "It is declined.",
        "dispute_resolved" => "The dispute is marked resolved, and the contract is open again.",
        "contract_ended" => "The contract is ended.",
        "offer_accepted" => "You accepted the offer: the contract is open.",
        "offer_declined" => "You declined the offer.",
        "offer_withdrawn" => "Your offer is withdrawn: it can no longer be accepted.",
        _ => return None,
    })
}

/// Renders a template with a status.
pub fn render<T: Template>(status: StatusCode, t: T) -> Response {
    let mut res = askama_web::WebTemplate(t).into_response();
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

/// A page that says one thing: an error, or a short outcome.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub l: Layout,
    pub title: String,
    pub text: String,
    /// Blockers to list (when preflight refused the step).
    pub findings: Vec<Finding>,
    /// Where to go next: (address, words).
    pub next: Option<(String, String)>,
}

/// A page with a title, a sentence and a link onwards.
pub fn message(
    status: StatusCode,
    l: Layout,
    title: &str,
    text: &str,
    next: Option<(&str, &str)>,
) -> Response {
    render(
        status,
        MessagePage {
            l,
            title: title.to_string(),
            text: text.to_string(),
            findings: Vec::new(),
            next: next.map(|(a, b)| (a.to_string(), b.to_string())),
        },
    )
}

/// After a successful POST: see the result at `to`.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A use case's error as a page; `back` is where the member can try again.
pub fn failure(l: Layout, e: ServiceError, back: &str) -> Response {
    let back_link = Some((back, "Go back"));
    match e {
        ServiceError::Unauthorized => see_other("/login"),
        ServiceError::BadCredentials => message(
            StatusCode::UNAUTHORIZED,
            l,
            "Not accepted",
            "Wrong email or password. If you just signed up, open the link we mailed you first.",
            back_link,
        ),
        ServiceError::ReauthRequired => message(
            StatusCode::FORBIDDEN,
            l,
            "Confirm your password first",
            "This step needs your password again. Enter it on the form and submit once more.",
            back_link,
        ),
        ServiceError::Blocked(pre) => render(
            StatusCode::CONFLICT,
            MessagePage {
                l,
                title: "Something must be resolved first".into(),
                text: "Nothing was changed. Resolve each item below, then try again.".into(),
                findings: pre.blockers,
                next: Some((back.to_string(), "Go back".to_string())),
            },
        ),
        ServiceError::NotFound(what) => message(
            StatusCode::NOT_FOUND,
            l,
            "Not found",
            &format!("There is no such {what}, or it is not yours."),
            back_link,
        ),
        ServiceError::Forbidden { message: m, .. } => {
            message(StatusCode::FORBIDDEN, l, "Not allowed", &m, back_link)
        }
        ServiceError::Conflict { message: m, .. } => message(
            StatusCode::CONFLICT,
            l,
            "That is not possible right now",
            &capitalized(&m),
            back_link,
        ),
        ServiceError::Invalid { message: m, .. } => message(
            StatusCode::UNPROCESSABLE_ENTITY,
            l,
            "Please check what you entered",
            &capitalized(&m),
            back_link,
        ),
        ServiceError::Gone { message: m, .. } => message(
            StatusCode::GONE,
            l,
            "No longer available",
            &capitalized(&m),
            back_link,
        ),
        e @ (ServiceError::RateLimited { .. } | ServiceError::QuotaReached { .. }) => message(
            StatusCode::TOO_MANY_REQUESTS,
            l,
            "Please wait a moment",
            &capitalized(&e.to_string()),
            back_link,
        ),
        ServiceError::Internal(e) => {
            tracing::error!(error = %e, "page failed");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                l,
                "Something went wrong",
                "Nothing was changed. Please try again in a moment.",
                back_link,
            )
        }
    }
}

/// Input the page itself refuses before asking the service (a missing choice).
pub fn bad_input(l: Layout, text: &str, back: &str) -> Response {
    message(
        StatusCode::UNPROCESSABLE_ENTITY,
        l,
        "Please check what you entered",
        text,
        Some((back, "Go back")),
    )
}

/// The service's messages start in lower case (they are also API details); a page's
/// sentences start with a capital.
pub fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A date (UTC) as a person reads it.
pub fn date(t: hiatus_domain::Micros) -> String {
    hiatus_service::clock::format_date(t)
}

/// A time (UTC, to the minute) as a person reads it.
pub fn time(t: hiatus_domain::Micros) -> String {
    jiff::Timestamp::from_microsecond(t)
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// An amount as people type it ("1,234.50", "12.5", "12"); none when it is not one.
pub fn amount(text: &str, currency: Currency) -> Option<Money> {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != ' ')
        .collect();
    let (units, cents) = t.split_once('.').unwrap_or((&t, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (units.is_empty() && cents.is_empty()) || !digits(units) || !digits(cents) || cents.len() > 2
    {
        return None;
    }
    let units: i64 = if units.is_empty() {
        0
    } else {
        units.parse().ok()?
    };
    let cents: i64 = format!("{cents:0<2}").parse().ok()?;
    Money::new(units.checked_mul(100)?.checked_add(cents)?, currency).ok()
}

/// An amount as a form field holds it: `1234.50`, without the currency or separators.
pub fn amount_field(m: Money) -> String {
    format!("{}.{:02}", m.minor / 100, m.minor % 100)
}

/// An id from the address; a malformed one names no record, like a missing one.
pub fn record_id<T: std::str::FromStr>(text: &str, what: &'static str) -> ServiceResult<T> {
    text.parse().map_err(|_| ServiceError::NotFound(what))
}

/// After a POST on a list page: back to `to` (the list with its confirmation), or the error
/// as a page with a way back to `back`.
pub fn done(m: &Member, outcome: ServiceResult<String>, back: &str) -> Response {
    match outcome {
        Ok(to) => see_other(&to),
        Err(e) => failure(Layout::member(m, "work"), e, back),
    }
}

/// `?status=…&ok=…` of a list page.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    pub status: Option<String>,
    pub ok: Option<String>,
}

/// The one filter a list page offers: the records preflight asks about (`?status=…` in the
/// links of its findings), or everything.
#[derive(Clone, Copy)]
pub struct Filter {
    /// The page's address.
    pub path: &'static str,
    /// The value of `status` that filters, e.g. `unsettled`.
    pub code: &'static str,
    /// What the filtered list shows, e.g. "Unsettled".
    pub words: &'static str,
    /// Whether the list is filtered.
    pub on: bool,
}

impl Filter {
    /// The filter as the address (or a form's `status` field) asks for it.
    pub fn with(self, status: Option<&str>) -> Self {
        Self {
            on: status == Some(self.code),
            ..self
        }
    }

    /// The filter a posted form of the page was sent from.
    pub fn of_form(self, f: &Fields) -> Self {
        self.with(f.get("status"))
    }

    /// The list as shown now.
    pub fn address(&self) -> String {
        if self.on {
            format!("{}?status={}", self.path, self.code)
        } else {
            self.path.to_string()
        }
    }

    /// The list as shown now, with the confirmation `ok`.
    pub fn confirmed(&self, ok: &str) -> String {
        let a = self.address();
        let sep = if self.on { '&' } else { '?' };
        format!("{a}{sep}ok={ok}")
    }

    /// A button of one row that posts to `action` and comes back to this list.
    pub fn action(&self, action: String, words: &'static str, about: String) -> RowAction {
        RowAction {
            action,
            words,
            about,
            status: self.on.then_some(self.code),
        }
    }
}

/// A button on a row of a list, posting to `action`.
pub struct RowAction {
    pub action: String,
    /// What the button says ("Release").
    pub words: &'static str,
    /// What it acts on, for screen readers ("USD 300.00 for Logo design").
    pub about: String,
    /// The list's filter, to come back to the same list.
    pub status: Option<&'static str>,
}

/// The most records a list page shows.
pub const LIST_MAX: usize = 200;
/// Records are read this many at a time (the largest page the use cases give)…
const SCAN_PAGE: i64 = hiatus_domain::page::PAGE_MAX;
/// …up to this many, looking for those a filter keeps.
const SCAN_MAX: i64 = 10_000;

/// Adds the records `keep` accepts to `out`, up to [`LIST_MAX`]; true when one was left out.
fn add_kept<T>(out: &mut Vec<T>, batch: Vec<T>, keep: &impl Fn(&T) -> bool) -> bool {
    for x in batch.into_iter().filter(|x| keep(x)) {
        if out.len() == LIST_MAX {
            return true;
        }
        out.push(x);
    }
    false
}

/// The first records of `all` that `keep` accepts; true when some were left out.
pub fn kept<T>(all: Vec<T>, keep: impl Fn(&T) -> bool) -> (Vec<T>, bool) {
    let mut out = Vec::new();
    let more = add_kept(&mut out, all, &keep);
    (out, more)
}

/// The newest records `keep` accepts, read a page at a time through `page(limit, offset)`
/// (newest first); true when there may be more than the list shows.
pub async fn newest<T, F: Future<Output = ServiceResult<Vec<T>>>>(
    mut page: impl FnMut(i64, i64) -> F,
    keep: impl Fn(&T) -> bool,
) -> ServiceResult<(Vec<T>, bool)> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < SCAN_MAX {
        let batch = page(SCAN_PAGE, offset).await?;
        let last = (batch.len() as i64) < SCAN_PAGE;
        if add_kept(&mut out, batch, &keep) {
            return Ok((out, true));
        }
        if last {
            return Ok((out, false));
        }
        offset += SCAN_PAGE;
    }
    Ok((out, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_people_type_them() {
        let usd = |minor| Some(Money::new(minor, Currency::USD).unwrap());
        assert_eq!(amount("12", Currency::USD), usd(1200));
        assert_eq!(amount(" 12.5 ", Currency::USD), usd(1250));
        assert_eq!(amount("1,234.05", Currency::USD), usd(123_405));
        assert_eq!(amount(".75", Currency::USD), usd(75));
        assert_eq!(amount("0", Currency::USD), usd(0));
        for bad in [
            "",
            ".",
            "-5",
            "1.234",
            "12,50€",
            "lots",
            "1e3",
            "99999999999999999999",
        ] {
            assert_eq!(amount(bad, Currency::USD), None, "{bad}");
        }
        let m = Money::new(123_405, Currency::USD).unwrap();
        assert_eq!(amount(&amount_field(m), Currency::USD), Some(m));
    }

    #[test]
    fn filters_keep_their_place() {
        const F: Filter = Filter {
            path: "/payments",
            code: "unsettled",
            words: "Unsettled",
            on: false,
        };
        assert!(!F.with(Some("paid")).on);
        let on = F.with(Some("unsettled"));
        assert_eq!(on.address(), "/payments?status=unsettled");
        assert_eq!(on.confirmed("x"), "/payments?status=unsettled&ok=x");
        assert_eq!(F.confirmed("x"), "/payments?ok=x");
        let (v, more) = kept((0..500).collect::<Vec<_>>(), |x| x % 2 == 0);
        assert_eq!((v.len(), more), (LIST_MAX, true));
        let (v, more) = kept(vec![1, 2, 3], |x| *x > 1);
        assert_eq!((v, more), (vec![2, 3], false));
    }
}
