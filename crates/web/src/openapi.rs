//! The OpenAPI document at `/api/v1/openapi.json`. Handlers declare their success responses;
//! the error responses every operation can give are added here once.

use crate::api::{
    account as a, erasure as e, export as x, market as m, notices as n, support as r, webhooks as w,
};
use crate::problem::Problem;
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "hiatus", description = "Account lifecycle of a freelance marketplace: take a break, deactivate, download your data, delete for good, come back."),
    paths(
        e::plan, e::schedule, e::cancel, e::person,
        n::regular_clients, n::tell,
        r::request, r::status, r::code, r::queue, r::approve, r::deny, r::audit, r::reset,
        w::subscribe, w::list, w::remove, w::deliveries, w::replay,
        x::request, x::list, x::get, x::mint_link, x::download, x::key,
        a::sign_up, a::confirm, a::login, a::logout, a::logout_others, a::reauth, a::me, a::update_profile, a::set_contact, a::update_settings,
        a::start_break, a::end_break, a::preflight, a::deactivate, a::reactivate, a::audit, a::balances, a::withdraw, a::payouts,
        m::list_profiles, m::get_profile, m::profile_reviews, m::my_reviews, m::create_job_post, m::list_job_posts, m::send_proposal,
        m::list_proposals, m::respond_proposal, m::create_contract, m::list_contracts, m::get_contract, m::contract_action,
        m::fund_milestone, m::submit_work, m::list_submissions, m::issue_invoice, m::write_review, m::list_payments,
        m::payment_action, m::list_invoices, m::get_invoice, m::pay_invoice, m::start_thread, m::list_threads,
        m::list_messages, m::post_message, m::upload_file, m::download_file, m::set_debt,
    ),
    components(schemas(Problem)),
    modifiers(&StandardErrors),
)]
pub struct ApiDoc;

struct StandardErrors;

const ERRORS: [(&str, &str); 10] = [
    ("400", "Malformed request"),
    ("401", "Not logged in"),
    ("403", "Not allowed, or re-authentication needed"),
    ("404", "No such record, or not visible to the caller"),
    ("409", "Conflicts with the account's or record's state"),
    ("413", "Body too large"),
    ("415", "Body is not JSON"),
    ("422", "Body has invalid values"),
    ("429", "Too many attempts"),
    ("500", "Internal error"),
];

impl Modify for StandardErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for (code, text) in ERRORS {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(text)
                                .content(
                                    "application/problem+json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("Problem")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                }
            }
        }
    }
}

/// Serves the document.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
