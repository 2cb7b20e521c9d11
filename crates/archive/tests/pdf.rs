//! Invoice PDFs: well-formed, font embedded, text extractable, long invoices paginate, hostile
//! input does not panic, and rendering is fast enough for exports with thousands of invoices.

use hiatus_archive::pdf::{
    InvoiceDoc, InvoiceLine, Party, content_hash, format_amount, render_invoice,
};
use std::time::Instant;

fn invoice() -> InvoiceDoc {
    InvoiceDoc {
        number: "INV-2026-000123".into(),
        status: "paid".into(),
        issued_at: "2026-10-01".into(),
        due_at: "2026-10-15".into(),
        paid_at: Some("2026-10-12".into()),
        issuer: Party {
            name: "Zoë Ünal".into(),
            id: "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0011".into(),
        },
        recipient: Party {
            name: "Ølstykke Design ApS".into(),
            id: "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0022".into(),
        },
        contract_title: "Brand refresh – logo and style guide".into(),
        contract_id: "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0033".into(),
        currency: "USD".into(),
        lines: vec![
            InvoiceLine {
                description: "Milestone 1: discovery workshop and mood boards".into(),
                amount_minor: 100_000,
            },
            InvoiceLine {
                description: "Milestone 2: logo concepts (three rounds), €-priced fonts".into(),
                amount_minor: 23_450,
            },
        ],
        total_minor: 123_450,
    }
}

fn parse(pdf: &[u8]) -> lopdf::Document {
    lopdf::Document::load_mem(pdf).expect("the PDF parses")
}

/// The text of every page, as a PDF reader extracts it.
fn text_of(pdf: &[u8]) -> String {
    let doc = parse(pdf);
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).expect("text extracts")
}

fn assert_well_formed(pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-"), "starts with the PDF header");
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"), "ends with %%EOF");
    parse(pdf);
}

#[test]
fn amounts_have_two_decimals_and_thousands_separators() {
    assert_eq!(format_amount(123_450, "USD"), "1,234.50 USD");
    assert_eq!(format_amount(0, "EUR"), "0.00 EUR");
    assert_eq!(format_amount(5, "EUR"), "0.05 EUR");
    assert_eq!(format_amount(-100_000_001, "EUR"), "-1,000,000.01 EUR");
    assert_eq!(format_amount(99_999, ""), "999.99");
    assert_eq!(
        format_amount(i64::MIN, "USD"),
        "-92,233,720,368,547,758.08 USD"
    );
    assert_eq!(
        format_amount(i64::MAX, "USD"),
        "92,233,720,368,547,758.07 USD"
    );
}

#[test]
fn an_invoice_is_a_well_formed_pdf_with_its_font_embedded() {
    let pdf = render_invoice(&invoice()).unwrap();
    assert_well_formed(&pdf);

    let doc = parse(&pdf);
    assert_eq!(doc.get_pages().len(), 1);
    let embedded = doc.objects.values().any(|object| {
        object.as_dict().is_ok_and(|dict| {
            dict.has(b"FontFile2") || dict.has(b"FontFile3") || dict.has(b"FontFile")
        })
    });
    assert!(
        embedded,
        "a font descriptor points at an embedded font program"
    );

    // A4.
    let (_, page_id) = doc.get_pages().into_iter().next().unwrap();
    let page = doc.get_dictionary(page_id).unwrap();
    let media_box = page
        .get(b"MediaBox")
        .or_else(|_| {
            let parent = page.get(b"Parent")?.as_reference()?;
            doc.get_dictionary(parent)?.get(b"MediaBox")
        })
        .unwrap()
        .as_array()
        .unwrap();
    let dims: Vec<f32> = media_box.iter().map(|o| o.as_float().unwrap()).collect();
    assert!((dims[2] - dims[0] - 595.28).abs() < 0.5, "{dims:?}");
    assert!((dims[3] - dims[1] - 841.89).abs() < 0.5, "{dims:?}");
}

#[test]
fn the_text_can_be_extracted() {
    let text = text_of(&render_invoice(&invoice()).unwrap());
    for expected in [
        "Invoice INV-2026-000123",
        "Zoë Ünal",
        "Ølstykke Design ApS",
        "1,234.50 USD",
        "1,000.00 USD",
        "234.50 USD",
        "2026-10-01",
        "2026-10-15",
        "2026-10-12",
        "Brand refresh – logo and style guide",
        "€-priced",
        "Exported from hiatus",
        "Page 1 of 1",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
}

#[test]
fn an_unpaid_invoice_shows_its_status() {
    let mut doc = invoice();
    doc.paid_at = None;
    doc.status = "overdue".into();
    let text = text_of(&render_invoice(&doc).unwrap());
    assert!(text.contains("overdue"), "{text:?}");
    assert!(!text.contains("Paid"), "{text:?}");
}

#[test]
fn decomposed_input_is_normalised() {
    let mut doc = invoice();
    doc.issuer.name = "Zoe\u{0308} U\u{0308}nal".into();
    let text = text_of(&render_invoice(&doc).unwrap());
    assert!(text.contains("Zoë Ünal"), "{text:?}");
}

#[test]
fn a_long_invoice_continues_on_more_pages() {
    let mut doc = invoice();
    let long =
        "Design work on the landing page, iteration and review with the client. ".repeat(140);
    doc.lines = vec![
        InvoiceLine {
            description: long.clone(),
            amount_minor: 50_000,
        },
        InvoiceLine {
            description: "Final line after the long one".into(),
            amount_minor: 73_450,
        },
    ];
    let pdf = render_invoice(&doc).unwrap();
    assert_well_formed(&pdf);
    let parsed = parse(&pdf);
    let pages = parsed.get_pages().len();
    assert!(pages >= 2, "{pages} pages");
    let text = text_of(&pdf);
    assert!(text.contains("Final line after the long one"));
    assert!(text.contains("1,234.50 USD"));
    assert!(text.contains(&format!("Page {pages} of {pages}")));
    assert!(text.contains("(continued)"));

    // Many short lines paginate too.
    doc.lines = (0..200)
        .map(|i| InvoiceLine {
            description: format!("Hour {i} of support"),
            amount_minor: 5_000,
        })
        .collect();
    let pdf = render_invoice(&doc).unwrap();
    let text = text_of(&pdf);
    assert!(parse(&pdf).get_pages().len() >= 4);
    assert!(text.contains("Hour 199 of support"));
}

#[test]
fn hostile_input_does_not_panic() {
    let word = "x".repeat(5_000);
    let ten_thousand: String = "Lorem ipsum dolor sit amet, "
        .chars()
        .cycle()
        .take(10_000)
        .collect();
    let controls: String = (0u8..32)
        .map(char::from)
        .chain(['\u{7f}', '\u{85}'])
        .collect();
    let nasty = [
        String::new(),
        " ".into(),
        "\n\n\n".into(),
        word.clone(),
        ten_thousand.clone(),
        controls.clone(),
        format!("a{controls}b"),
        "\u{202E}evil\u{202C} \u{2066}isolate\u{2069}".into(),
        "\u{FEFF}\u{200B}\u{200D}\u{FE0F}".into(),
        "مرحبا بالعالم שלום".into(),
        "नमस्ते 你好 😀 \u{10FFFF} \u{E000}".into(),
        "e\u{0301}\u{0302}\u{0303}\u{0304}\u{0305}".repeat(200),
        "\r\n\r\nline\r\n\r\n\r\n\r\nother\r".into(),
        "%%EOF ) ( \\ endstream endobj".into(),
    ];
    for (i, text) in nasty.iter().enumerate() {
        let doc = InvoiceDoc {
            number: text.clone(),
            status: text.clone(),
            issued_at: text.clone(),
            due_at: text.clone(),
            paid_at: Some(text.clone()),
            issuer: Party {
                name: text.clone(),
                id: text.clone(),
            },
            recipient: Party {
                name: text.clone(),
                id: text.clone(),
            },
            contract_title: text.clone(),
            contract_id: text.clone(),
            currency: text.clone(),
            lines: vec![
                InvoiceLine {
                    description: text.clone(),
                    amount_minor: i64::MIN,
                },
                InvoiceLine {
                    description: text.clone(),
                    amount_minor: i64::MAX,
                },
            ],
            total_minor: i64::MIN,
        };
        let pdf = render_invoice(&doc).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_well_formed(&pdf);
    }

    // An invoice with nothing in it.
    let pdf = render_invoice(&InvoiceDoc::default()).unwrap();
    assert_well_formed(&pdf);
    assert!(text_of(&pdf).contains("No lines"));

    // Control characters never reach the text layer.
    let mut doc = invoice();
    doc.recipient.name = format!("Ada{controls}Lovelace");
    let text = text_of(&render_invoice(&doc).unwrap());
    assert!(text.contains("Ada Lovelace"), "{text:?}");

    // A 10,000-character word is broken over lines and pages, not lost.
    let mut doc = invoice();
    doc.lines[0].description = "q".repeat(10_000);
    let pdf = render_invoice(&doc).unwrap();
    assert!(parse(&pdf).get_pages().len() >= 2);
    let text = text_of(&pdf);
    assert_eq!(text.matches('q').count(), 10_000);
}

#[test]
fn rendering_is_deterministic_and_thread_safe() {
    let doc = invoice();
    let first = render_invoice(&doc).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let doc = doc.clone();
            std::thread::spawn(move || {
                (0..20)
                    .map(|_| render_invoice(&doc).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for thread in threads {
        for pdf in thread.join().unwrap() {
            assert_eq!(pdf, first);
        }
    }
}

/// Prints the time per invoice and the size; run with `--release -- --nocapture` for the
/// numbers that matter. The bound only catches gross regressions (it holds in debug builds).
#[test]
fn rendering_speed() {
    let doc = invoice();
    render_invoice(&doc).unwrap(); // fonts loaded once per process
    let n = if cfg!(debug_assertions) { 50 } else { 500 };
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        let mut doc = doc.clone();
        doc.number = format!("INV-2026-{i:06}");
        bytes += render_invoice(&doc).unwrap().len();
    }
    let per = start.elapsed() / n as u32;
    println!(
        "render_invoice: {per:?} per invoice over {n} ({} build), {} bytes per PDF",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        bytes / n
    );
    assert!(per.as_millis() < 200, "{per:?} per invoice");
}

#[test]
fn the_content_hash_changes_with_anything_the_pdf_shows() {
    let base = invoice();
    assert_eq!(content_hash(&base), content_hash(&invoice()));
    assert_eq!(content_hash(&base).len(), 64);
    let changes: Vec<fn(&mut InvoiceDoc)> = vec![
        |d| d.status = "unpaid".into(),
        |d| d.paid_at = None,
        |d| d.issuer.name = "Zoe Unal".into(),
        |d| d.recipient.name.push(' '),
        |d| d.contract_title.clear(),
        |d| d.lines[1].amount_minor += 1,
        |d| d.lines.truncate(1),
        |d| d.total_minor = 0,
        // The same characters split differently between two fields.
        |d| {
            d.number = "INV-2026-00012".into();
            d.status = "3paid".into();
        },
    ];
    for (i, change) in changes.into_iter().enumerate() {
        let mut d = invoice();
        change(&mut d);
        assert_ne!(content_hash(&d), content_hash(&base), "change {i}");
    }
}
