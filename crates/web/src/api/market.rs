//! Profiles and the marketplace records: enough to build any lifecycle scenario through the
//! API alone. Every record is visible only to its parties; others get 404.

use crate::AppState;
use crate::api::account::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, MaybeAuth};
use crate::problem::{ApiError, ApiResult};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hiatus_domain::*;
use hiatus_service::lifecycle::PublicProfile;
use hiatus_service::market::{ContractAction, PaymentAction, ProposalAction, Upload};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Profiles listed to the caller (public ones, plus members-only ones when logged in).
#[utoipa::path(get, path = "/api/v1/profiles", tag = "profiles", params(Page),
    responses((status = 200, description = "Profiles", body = [PublicProfile])))]
pub async fn list_profiles(
    State(s): State<AppState>,
    MaybeAuth(a): MaybeAuth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<PublicProfile>>> {
    let (limit, offset) = p.get()?;
    Ok(Json(
        s.hiatus
            .list_profiles(a.as_ref(), limit.min(100), offset)
            .await?,
    ))
}

/// One profile. Hidden (deactivated, private, erased) profiles are 404, like missing ones.
#[utoipa::path(get, path = "/api/v1/profiles/{id}", tag = "profiles", params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses((status = 200, description = "The profile", body = PublicProfile)))]
pub async fn get_profile(
    State(s): State<AppState>,
    MaybeAuth(a): MaybeAuth,
    ApiPath(id): ApiPath<AccountId>,
) -> ApiResult<Json<PublicProfile>> {
    Ok(Json(s.hiatus.profile(a.as_ref(), id).await?))
}

/// The reviews the caller wrote, newest first (those about a member erased since name the
/// pseudonym).
#[utoipa::path(get, path = "/api/v1/me/reviews", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "Reviews", body = [Review])))]
pub async fn my_reviews(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Vec<Review>>> {
    Ok(Json(s.hiatus.my_reviews(&a).await?))
}

/// Reviews about a member whose profile the caller may see.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/reviews", tag = "profiles", params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses((status = 200, description = "Reviews", body = [Review])))]
pub async fn profile_reviews(
    State(s): State<AppState>,
    MaybeAuth(a): MaybeAuth,
    ApiPath(id): ApiPath<AccountId>,
) -> ApiResult<Json<Vec<Review>>> {
    Ok(Json(s.hiatus.reviews_of(a.as_ref(), id).await?))
}

/// A job post to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobPostBody {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: String,
}

/// Posts a job (clients).
#[utoipa::path(post, path = "/api/v1/job-posts", tag = "marketplace", security(("bearer" = [])), request_body = JobPostBody,
    responses((status = 201, description = "Created", body = JobPost)))]
pub async fn create_job_post(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<JobPostBody>,
) -> ApiResult<(StatusCode, Json<JobPost>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.hiatus.create_job_post(&a, &b.title).await?),
    ))
}

/// The caller's job posts.
#[utoipa::path(get, path = "/api/v1/job-posts", tag = "marketplace", security(("bearer" = [])),
    responses((status = 200, description = "Job posts", body = [JobPost])))]
pub async fn list_job_posts(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Vec<JobPost>>> {
    Ok(Json(s.hiatus.my_job_posts(&a).await?))
}

/// A proposal or invitation to send.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalBody {
    /// `proposal` (freelancer to client) or `invitation` (client to freelancer).
    pub kind: ProposalKind,
    /// The other member.
    pub to: AccountId,
    pub job_post_id: Option<JobPostId>,
    pub cover_letter: String,
}

/// Sends a proposal or an invitation. 404 when the other member is hidden (deactivated,
/// private) and the caller never had a contract or thread with them, as for an unknown id;
/// otherwise 409 `counterparty_unavailable` when they are deactivated or leaving. 409
/// `account_not_active` when the caller is.
#[utoipa::path(post, path = "/api/v1/proposals", tag = "marketplace", security(("bearer" = [])), request_body = ProposalBody,
    responses((status = 201, description = "Sent", body = Proposal)))]
pub async fn send_proposal(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ProposalBody>,
) -> ApiResult<(StatusCode, Json<Proposal>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.hiatus
                .send_proposal(&a, b.kind, b.to, b.job_post_id, &b.cover_letter)
                .await?,
        ),
    ))
}

/// Proposals and invitations the caller sent or received.
#[utoipa::path(get, path = "/api/v1/proposals", tag = "marketplace", security(("bearer" = [])),
    responses((status = 200, description = "Proposals", body = [Proposal])))]
pub async fn list_proposals(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Vec<Proposal>>> {
    Ok(Json(s.hiatus.my_proposals(&a).await?))
}

/// A response to a proposal.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalActionBody {
    pub action: ProposalAction,
}

/// The proposal after a response, and the contract an acceptance created.
#[derive(Serialize, ToSchema)]
pub struct ProposalOutcome {
    pub proposal: Proposal,
    pub contract: Option<Contract>,
}

/// Accepts, declines or withdraws a proposal.
#[utoipa::path(post, path = "/api/v1/proposals/{id}/respond", tag = "marketplace", security(("bearer" = [])), request_body = ProposalActionBody,
    params(("id" = uuid::Uuid, Path, description = "Proposal id")),
    responses((status = 200, description = "Done", body = ProposalOutcome)))]
pub async fn respond_proposal(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ProposalId>,
    ApiJson(b): ApiJson<ProposalActionBody>,
) -> ApiResult<Json<ProposalOutcome>> {
    let (proposal, contract) = s.hiatus.respond_proposal(&a, id, b.action).await?;
    Ok(Json(ProposalOutcome { proposal, contract }))
}

/// A contract to start.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractBody {
    pub freelancer_id: AccountId,
    pub title: String,
    /// ISO 4217 code; default USD.
    #[schema(value_type = Option<String>)]
    pub currency: Option<Currency>,
}

/// Offers a contract to a freelancer (clients). It starts `offered`: nothing can be funded,
/// delivered, invoiced or reviewed under it until the freelancer accepts it through
/// `POST /api/v1/contracts/{id}/actions` (`accept` or `decline`); the client may `withdraw`
/// it until then.
#[utoipa::path(post, path = "/api/v1/contracts", tag = "marketplace", security(("bearer" = [])), request_body = ContractBody,
    responses((status = 201, description = "The offer, waiting for the freelancer", body = Contract)))]
pub async fn create_contract(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ContractBody>,
) -> ApiResult<(StatusCode, Json<Contract>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.hiatus
                .create_contract(
                    &a,
                    b.freelancer_id,
                    &b.title,
                    b.currency.unwrap_or(Currency::USD),
                )
                .await?,
        ),
    ))
}

/// The caller's contracts.
#[utoipa::path(get, path = "/api/v1/contracts", tag = "marketplace", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "Contracts", body = [Contract])))]
pub async fn list_contracts(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Contract>>> {
    let (l, o) = p.get()?;
    Ok(Json(s.hiatus.my_contracts(&a, l, o).await?))
}

/// A contract the caller is party to.
#[utoipa::path(get, path = "/api/v1/contracts/{id}", tag = "marketplace", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 200, description = "The contract", body = Contract)))]
pub async fn get_contract(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
) -> ApiResult<Json<Contract>> {
    Ok(Json(s.hiatus.contract(&a, id).await?))
}

/// A change to a contract.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractActionBody {
    pub action: ContractAction,
}

/// Answers an offer (`accept` or `decline`: the freelancer; `withdraw`: the client; anyone
/// else's answer is 403 `not_your_move`), or pauses, resumes, ends, disputes or resolves the
/// dispute of an accepted contract. Of concurrent requests for one change, one applies and
/// the others get 409.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/actions", tag = "marketplace", security(("bearer" = [])), request_body = ContractActionBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 200, description = "The contract now", body = Contract)))]
pub async fn contract_action(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<ContractActionBody>,
) -> ApiResult<Json<Contract>> {
    Ok(Json(s.hiatus.contract_action(&a, id, b.action).await?))
}

/// A milestone to fund.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneBody {
    pub title: String,
    pub amount: Money,
}

/// A funded milestone and its escrow payment.
#[derive(Serialize, ToSchema)]
pub struct Funded {
    pub milestone: Milestone,
    pub payment: Payment,
}

/// Funds a milestone (the client) of an open contract: the amount goes into escrow. An offer
/// the freelancer has not accepted (or declined, or withdrawn) answers 409
/// `contract_not_accepted`.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/milestones", tag = "marketplace", security(("bearer" = [])), request_body = MilestoneBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 201, description = "Funded", body = Funded)))]
pub async fn fund_milestone(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<MilestoneBody>,
) -> ApiResult<(StatusCode, Json<Funded>)> {
    let (milestone, payment) = s.hiatus.fund_milestone(&a, id, &b.title, b.amount).await?;
    Ok((StatusCode::CREATED, Json(Funded { milestone, payment })))
}

/// A file in a JSON body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileBody {
    pub name: String,
    pub content_type: String,
    /// The bytes, base64 (standard alphabet, padded).
    pub data_base64: String,
}

impl FileBody {
    fn upload(self) -> ApiResult<Upload> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.data_base64.as_bytes())
            .map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_base64",
                    "data_base64 is not valid base64",
                )
            })?;
        Ok(Upload {
            name: self.name,
            content_type: self.content_type,
            bytes,
        })
    }
}

/// Work to deliver.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionBody {
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub files: Vec<FileBody>,
}

/// A submission with its files.
#[derive(Serialize, ToSchema)]
pub struct SubmissionOut {
    pub submission: Submission,
    pub files: Vec<FileMeta>,
}

/// Delivers work under an accepted, not ended contract (its freelancer); 409
/// `contract_not_accepted` for an offer.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/submissions", tag = "marketplace", security(("bearer" = [])), request_body = SubmissionBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 201, description = "Submitted", body = SubmissionOut)))]
pub async fn submit_work(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<SubmissionBody>,
) -> ApiResult<(StatusCode, Json<SubmissionOut>)> {
    let files = b
        .files
        .into_iter()
        .map(FileBody::upload)
        .collect::<ApiResult<Vec<_>>>()?;
    let (submission, files) = s.hiatus.submit_work(&a, id, &b.note, files).await?;
    Ok((
        StatusCode::CREATED,
        Json(SubmissionOut { submission, files }),
    ))
}

/// The submissions of a contract.
#[utoipa::path(get, path = "/api/v1/contracts/{id}/submissions", tag = "marketplace", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 200, description = "Submissions", body = [SubmissionOut])))]
pub async fn list_submissions(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
) -> ApiResult<Json<Vec<SubmissionOut>>> {
    let v = s.hiatus.contract_submissions(&a, id).await?;
    Ok(Json(
        v.into_iter()
            .map(|(submission, files)| SubmissionOut { submission, files })
            .collect(),
    ))
}

/// An invoice to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceBody {
    pub description: String,
    pub amount: Money,
    /// Days until due (0 to 365); default 14.
    pub due_in_days: Option<i64>,
}

/// Issues an invoice to the contract's client (its freelancer) while the contract is accepted
/// and not ended; 409 `contract_not_accepted` for an offer, `contract_ended` after the end.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/invoices", tag = "marketplace", security(("bearer" = [])), request_body = InvoiceBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 201, description = "Issued", body = Invoice)))]
pub async fn issue_invoice(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<InvoiceBody>,
) -> ApiResult<(StatusCode, Json<Invoice>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.hiatus
                .issue_invoice(
                    &a,
                    id,
                    &b.description,
                    b.amount,
                    b.due_in_days.unwrap_or(14),
                )
                .await?,
        ),
    ))
}

/// A review to write.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// 1 to 5.
    pub rating: i64,
    #[serde(default)]
    pub body: String,
}

/// Reviews the other party of a contract that was accepted and then ended; an offer, answered
/// or not, is never reviewed (409 `contract_not_accepted`).
#[utoipa::path(post, path = "/api/v1/contracts/{id}/reviews", tag = "marketplace", security(("bearer" = [])), request_body = ReviewBody,
    params(("id" = uuid::Uuid, Path, description = "Contract id")),
    responses((status = 201, description = "Written", body = Review)))]
pub async fn write_review(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ContractId>,
    ApiJson(b): ApiJson<ReviewBody>,
) -> ApiResult<(StatusCode, Json<Review>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.hiatus.write_review(&a, id, b.rating, &b.body).await?),
    ))
}

/// The caller's payments.
#[utoipa::path(get, path = "/api/v1/payments", tag = "money", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "Payments", body = [Payment])))]
pub async fn list_payments(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Payment>>> {
    let (l, o) = p.get()?;
    Ok(Json(s.hiatus.my_payments(&a, l, o).await?))
}

/// A change to a payment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentActionBody {
    pub action: PaymentAction,
}

/// Approves, releases or refunds a payment: the client approves and releases, the freelancer
/// refunds, an operator may act on any payment. Each happens once: a payment already settled
/// (also by a concurrent request) is 409 `payment_settled`; a release that would take the
/// freelancer's balance past its bound is 409 `balance_limit`; support agents get 403.
#[utoipa::path(post, path = "/api/v1/payments/{id}/actions", tag = "money", security(("bearer" = [])), request_body = PaymentActionBody,
    params(("id" = uuid::Uuid, Path, description = "Payment id")),
    responses((status = 200, description = "The payment now", body = Payment)))]
pub async fn payment_action(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<PaymentId>,
    ApiJson(b): ApiJson<PaymentActionBody>,
) -> ApiResult<Json<Payment>> {
    Ok(Json(s.hiatus.payment_action(&a, id, b.action).await?))
}

/// The caller's invoices (issued and received).
#[utoipa::path(get, path = "/api/v1/invoices", tag = "money", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "Invoices", body = [Invoice])))]
pub async fn list_invoices(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Invoice>>> {
    let (l, o) = p.get()?;
    Ok(Json(s.hiatus.my_invoices(&a, l, o).await?))
}

/// An invoice the caller issued or received.
#[utoipa::path(get, path = "/api/v1/invoices/{id}", tag = "money", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Invoice id")),
    responses((status = 200, description = "The invoice", body = Invoice)))]
pub async fn get_invoice(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<InvoiceId>,
) -> ApiResult<Json<Invoice>> {
    Ok(Json(s.hiatus.invoice(&a, id).await?))
}

/// Pays an invoice (its recipient).
#[utoipa::path(post, path = "/api/v1/invoices/{id}/pay", tag = "money", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Invoice id")),
    responses((status = 200, description = "Paid", body = Invoice)))]
pub async fn pay_invoice(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<InvoiceId>,
) -> ApiResult<Json<Invoice>> {
    Ok(Json(s.hiatus.pay_invoice(&a, id).await?))
}

/// A thread to start.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadBody {
    pub with: AccountId,
    pub subject: String,
    pub body: String,
    pub contract_id: Option<ContractId>,
}

/// A thread with its first message.
#[derive(Serialize, ToSchema)]
pub struct ThreadOut {
    pub thread: Thread,
    pub message: Message,
}

/// Starts a thread with another member. 409 `messaging_read_only` while deactivated.
#[utoipa::path(post, path = "/api/v1/threads", tag = "messages", security(("bearer" = [])), request_body = ThreadBody,
    responses((status = 201, description = "Started", body = ThreadOut)))]
pub async fn start_thread(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<ThreadBody>,
) -> ApiResult<(StatusCode, Json<ThreadOut>)> {
    let (thread, message) = s
        .hiatus
        .start_thread(&a, b.with, &b.subject, &b.body, b.contract_id)
        .await?;
    Ok((StatusCode::CREATED, Json(ThreadOut { thread, message })))
}

/// The caller's threads, most recent first.
#[utoipa::path(get, path = "/api/v1/threads", tag = "messages", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "Threads", body = [Thread])))]
pub async fn list_threads(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Thread>>> {
    let (l, o) = p.get()?;
    Ok(Json(s.hiatus.my_threads(&a, l, o).await?))
}

/// Messages of a thread, oldest first.
#[utoipa::path(get, path = "/api/v1/threads/{id}/messages", tag = "messages", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Thread id"), Page),
    responses((status = 200, description = "Messages", body = [Message])))]
pub async fn list_messages(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ThreadId>,
    ApiQuery(p): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Message>>> {
    let (l, o) = p.get()?;
    Ok(Json(s.hiatus.thread_messages(&a, id, l, o).await?))
}

/// A message to post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    pub body: String,
}

/// Posts a message. 409 `messaging_read_only` while deactivated.
#[utoipa::path(post, path = "/api/v1/threads/{id}/messages", tag = "messages", security(("bearer" = [])), request_body = MessageBody,
    params(("id" = uuid::Uuid, Path, description = "Thread id")),
    responses((status = 201, description = "Posted", body = Message)))]
pub async fn post_message(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<ThreadId>,
    ApiJson(b): ApiJson<MessageBody>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.hiatus.post_message(&a, id, &b.body).await?),
    ))
}

/// A private file to store (encrypted under the member's key).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateFileBody {
    /// `photo` (becomes the profile photo) or `private`.
    pub kind: FileKind,
    pub name: String,
    pub content_type: String,
    pub data_base64: String,
}

/// Uploads a profile photo or private file.
#[utoipa::path(post, path = "/api/v1/files", tag = "files", security(("bearer" = [])), request_body = PrivateFileBody,
    responses((status = 201, description = "Stored", body = FileMeta)))]
pub async fn upload_file(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiJson(b): ApiJson<PrivateFileBody>,
) -> ApiResult<(StatusCode, Json<FileMeta>)> {
    let up = FileBody {
        name: b.name,
        content_type: b.content_type,
        data_base64: b.data_base64,
    }
    .upload()?;
    Ok((
        StatusCode::CREATED,
        Json(s.hiatus.upload_private_file(&a, b.kind, up).await?),
    ))
}

/// Downloads a file: the owner's own, or a shared one the caller is party to.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "File id")),
    responses((status = 200, description = "The bytes", content_type = "application/octet-stream", body = Vec<u8>)))]
pub async fn download_file(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<FileId>,
) -> ApiResult<Response> {
    let (meta, bytes) = s.hiatus.download_file(&a, id).await?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let safe: String = meta
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        if safe.is_empty() { "file" } else { &safe }
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}

/// A debt to record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DebtBody {
    /// What the member owes, in minor units (cents); zero clears the debt in that currency.
    #[schema(minimum = 0)]
    pub minor: i64,
    /// ISO 4217 code, e.g. USD.
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
}

/// Records what a member owes the platform (support agents and operators only).
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/debt", tag = "admin", security(("bearer" = [])), request_body = DebtBody,
    params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses((status = 200, description = "The balance now", body = Balance)))]
pub async fn set_debt(
    State(s): State<AppState>,
    Auth(a): Auth,
    ApiPath(id): ApiPath<AccountId>,
    ApiJson(b): ApiJson<DebtBody>,
) -> ApiResult<Json<Balance>> {
    let debt = Money::new(b.minor, b.currency).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_invalid",
            e.to_string(),
        )
    })?;
    Ok(Json(s.hiatus.set_platform_debt(&a, id, debt).await?))
}
