-- Invoice PDFs as the export rendered them, so an unchanged invoice renders once: one row per
-- invoice, with the SHA-256 of everything the PDF shows (a paid invoice, or a changed name,
-- renders anew and replaces the row). The parties' ids are copied from the invoice so that
-- erasure finds and deletes a member's PDFs (they show the parties' names).
CREATE TABLE invoice_pdfs (
    invoice_id TEXT PRIMARY KEY REFERENCES invoices(id) ON DELETE CASCADE,
    issuer_id TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    pdf BYTEA NOT NULL,
    rendered_at BIGINT NOT NULL
);
CREATE INDEX invoice_pdfs_issuer ON invoice_pdfs(issuer_id);
CREATE INDEX invoice_pdfs_recipient ON invoice_pdfs(recipient_id);
