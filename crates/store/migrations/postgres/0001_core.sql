-- hiatus core schema. Every time is BIGINT microseconds UTC; every id is the text form of a
-- UUID; every *_enc column is XChaCha20-Poly1305 ciphertext under the owner's data key.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'member',
    state TEXT NOT NULL,
    email_lookup BYTEA NOT NULL UNIQUE,
    email_enc BYTEA,
    legal_name_enc BYTEA,
    data_key_wrapped BYTEA,
    password_hash TEXT,
    totp_secret_enc BYTEA,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    deletion_due_at BIGINT,
    data_changed_at BIGINT NOT NULL,
    state_changed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE profiles (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    display_name_enc BYTEA,
    headline_enc BYTEA,
    bio_enc BYTEA,
    photo_file_id TEXT,
    visibility TEXT NOT NULL,
    availability TEXT NOT NULL,
    paused_until BIGINT,
    notifications TEXT NOT NULL,
    away_message_enc BYTEA,
    break_prev_visibility TEXT,
    break_prev_notifications TEXT,
    hourly_rate_minor BIGINT,
    currency TEXT NOT NULL DEFAULT 'USD',
    updated_at BIGINT NOT NULL
);
CREATE INDEX profiles_paused_until ON profiles(paused_until) WHERE paused_until IS NOT NULL;

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    token_hash BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    reauth_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE job_posts (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES accounts(id),
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX job_posts_client ON job_posts(client_id, status);

CREATE TABLE proposals (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    job_post_id TEXT REFERENCES job_posts(id),
    freelancer_id TEXT NOT NULL REFERENCES accounts(id),
    client_id TEXT NOT NULL REFERENCES accounts(id),
    sender_id TEXT NOT NULL REFERENCES accounts(id),
    cover_letter TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX proposals_freelancer ON proposals(freelancer_id, status);
CREATE INDEX proposals_client ON proposals(client_id, status);

CREATE TABLE contracts (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES accounts(id),
    freelancer_id TEXT NOT NULL REFERENCES accounts(id),
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX contracts_freelancer ON contracts(freelancer_id, status);
CREATE INDEX contracts_client ON contracts(client_id, status);

CREATE TABLE milestones (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    title TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX milestones_contract ON milestones(contract_id);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    milestone_id TEXT REFERENCES milestones(id),
    payer_id TEXT NOT NULL REFERENCES accounts(id),
    payee_id TEXT NOT NULL REFERENCES accounts(id),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payments_payer ON payments(payer_id, status);
CREATE INDEX payments_payee ON payments(payee_id, status);
CREATE INDEX payments_contract ON payments(contract_id);

CREATE TABLE balances (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    currency TEXT NOT NULL,
    available_minor BIGINT NOT NULL DEFAULT 0,
    debt_minor BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, currency)
);

CREATE TABLE payouts (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    settles_at BIGINT NOT NULL
);
CREATE INDEX payouts_account ON payouts(account_id, status);

CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    issuer_id TEXT NOT NULL REFERENCES accounts(id),
    recipient_id TEXT NOT NULL REFERENCES accounts(id),
    description TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    paid_at BIGINT
);
CREATE INDEX invoices_issuer ON invoices(issuer_id);
CREATE INDEX invoices_recipient ON invoices(recipient_id, status);
CREATE INDEX invoices_contract ON invoices(contract_id);

CREATE TABLE disputes (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    opened_by TEXT NOT NULL REFERENCES accounts(id),
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX disputes_contract ON disputes(contract_id, status);

CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    contract_id TEXT REFERENCES contracts(id),
    subject TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL
);

CREATE TABLE thread_participants (
    thread_id TEXT NOT NULL REFERENCES threads(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    PRIMARY KEY (thread_id, account_id)
);
CREATE INDEX thread_participants_account ON thread_participants(account_id);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL REFERENCES threads(id),
    author_id TEXT NOT NULL REFERENCES accounts(id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_thread ON messages(thread_id, created_at);
CREATE INDEX messages_author ON messages(author_id);

CREATE TABLE submissions (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    freelancer_id TEXT NOT NULL REFERENCES accounts(id),
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX submissions_contract ON submissions(contract_id);
CREATE INDEX submissions_freelancer ON submissions(freelancer_id);

-- Shared files (attachments, submission files) keep their name in clear, since the
-- counterparty keeps them; private files (photo, drafts) are encrypted, name and bytes.
CREATE TABLE files (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL,
    message_id TEXT REFERENCES messages(id),
    submission_id TEXT REFERENCES submissions(id),
    blob_key TEXT NOT NULL,
    name TEXT,
    name_enc BYTEA,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    encrypted BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX files_owner ON files(owner_id);
CREATE INDEX files_message ON files(message_id);
CREATE INDEX files_submission ON files(submission_id);

CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    author_id TEXT NOT NULL REFERENCES accounts(id),
    subject_id TEXT NOT NULL REFERENCES accounts(id),
    rating BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reviews_subject ON reviews(subject_id);
CREATE INDEX reviews_author ON reviews(author_id);

-- Deliberately no account column: the reason is kept for statistics without a link to the
-- person (the audit event of the transition carries the reason for the member's own history).
CREATE TABLE closure_reasons (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE client_notices (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    client_id TEXT NOT NULL REFERENCES accounts(id),
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE exports (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    downloaded_at BIGINT
);
CREATE INDEX exports_account ON exports(account_id, downloaded_at);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    account_id TEXT,
    actor_id TEXT,
    action TEXT NOT NULL,
    reason TEXT,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_account ON audit_events(account_id, created_at);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_ready ON jobs(status, run_at);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    account_id TEXT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX outbox_pending ON outbox(delivered_at, created_at);
