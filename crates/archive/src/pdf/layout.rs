//! The layout: text measured with the fonts' own metrics, wrapped, and continued on new pages
//! under a running head; the result is a list of drawing operations per page.

use super::fonts::{Fonts, Weight};
use super::text::clean;
use super::{InvoiceDoc, Party, format_amount};

/// A4 in points.
pub(super) const PAGE_W: f32 = 595.276;
pub(super) const PAGE_H: f32 = 841.89;
pub(super) const MARGIN: f32 = 56.7;
pub(super) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
pub(super) const RIGHT: f32 = PAGE_W - MARGIN;
/// Content stops here; the footer sits below.
pub(super) const BOTTOM: f32 = PAGE_H - 64.0;
pub(super) const FOOTER_BASELINE: f32 = PAGE_H - 34.0;
pub(super) const LEADING: f32 = 1.35;

pub(super) const BODY: f32 = 10.0;
pub(super) const SMALL: f32 = 8.5;
pub(super) const TITLE: f32 = 20.0;

/// A gray level, 0 for black.
#[derive(Clone, Copy)]
pub(super) struct Ink(pub(super) u8);

pub(super) const BLACK: Ink = Ink(0);
pub(super) const GRAY: Ink = Ink(96);
pub(super) const LIGHT: Ink = Ink(200);

pub(super) struct TextOp {
    pub(super) x: f32,
    /// The baseline.
    pub(super) y: f32,
    pub(super) size: f32,
    pub(super) weight: Weight,
    pub(super) ink: Ink,
    pub(super) text: String,
}

pub(super) struct RuleOp {
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) w: f32,
    pub(super) h: f32,
    pub(super) ink: Ink,
}

#[derive(Default)]
pub(super) struct PageOps {
    pub(super) texts: Vec<TextOp>,
    pub(super) rules: Vec<RuleOp>,
}

/// A styled run of text to wrap: size, weight, ink.
#[derive(Clone, Copy)]
pub(super) struct Style {
    pub(super) size: f32,
    pub(super) weight: Weight,
    pub(super) ink: Ink,
}

impl Style {
    pub(super) const fn new(size: f32, weight: Weight, ink: Ink) -> Self {
        Style { size, weight, ink }
    }

    pub(super) fn line_height(self) -> f32 {
        self.size * LEADING
    }
}

pub(super) const BODY_STYLE: Style = Style::new(BODY, Weight::Regular, BLACK);
pub(super) const LABEL_STYLE: Style = Style::new(SMALL, Weight::Regular, GRAY);
pub(super) const HEAD_STYLE: Style = Style::new(SMALL, Weight::Bold, GRAY);

pub(super) struct Layout<'a> {
    pub(super) fonts: &'a Fonts,
    pub(super) pages: Vec<PageOps>,
    /// The top of the next line.
    pub(super) y: f32,
    /// Shown at the top of every page after the first.
    pub(super) running_head: String,
}

impl<'a> Layout<'a> {
    pub(super) fn new(fonts: &'a Fonts, running_head: String) -> Self {
        let mut layout = Layout {
            fonts,
            pages: Vec::new(),
            y: MARGIN,
            running_head,
        };
        layout.new_page();
        layout
    }

    pub(super) fn new_page(&mut self) {
        self.pages.push(PageOps::default());
        self.y = MARGIN;
        if self.pages.len() > 1 {
            let head = self.fit(&self.running_head, LABEL_STYLE, CONTENT_W);
            self.text(MARGIN, LABEL_STYLE, head);
            self.y += LABEL_STYLE.line_height() + 10.0;
        }
    }

    /// Starts a new page unless `height` more fits on this one. True if it did.
    pub(super) fn ensure(&mut self, height: f32) -> bool {
        if self.y + height > BOTTOM && self.y > MARGIN + 40.0 {
            self.new_page();
            true
        } else {
            false
        }
    }

    pub(super) fn page(&mut self) -> &mut PageOps {
        self.pages.last_mut().expect("a layout always has a page")
    }

    /// Places one line whose top is the current `y`.
    pub(super) fn text(&mut self, x: f32, style: Style, text: String) {
        if text.is_empty() {
            return;
        }
        let y = self.y + style.size;
        self.page().texts.push(TextOp {
            x,
            y,
            size: style.size,
            weight: style.weight,
            ink: style.ink,
            text,
        });
    }

    pub(super) fn text_right(&mut self, right: f32, style: Style, text: String) {
        let w = self.fonts.face(style.weight).width(&text, style.size);
        self.text(right - w, style, text);
    }

    pub(super) fn rule(&mut self, y: f32, h: f32, ink: Ink) {
        self.page().rules.push(RuleOp {
            x: MARGIN,
            y,
            w: CONTENT_W,
            h,
            ink,
        });
    }

    /// Flows wrapped text at `x`, breaking pages between lines.
    pub(super) fn paragraph(&mut self, x: f32, width: f32, style: Style, text: &str) {
        for line in self.wrap(text, style, width) {
            self.ensure(style.line_height());
            self.text(x, style, line);
            self.y += style.line_height();
        }
    }

    /// Breaks `text` (from `clean`) into lines no wider than `width`: at spaces and line
    /// breaks, and inside words too long for a line.
    pub(super) fn wrap(&self, text: &str, style: Style, width: f32) -> Vec<String> {
        let face = self.fonts.face(style.weight);
        let space = face.width(" ", style.size);
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            let mut line_w = 0.0;
            for word in para.split(' ').filter(|w| !w.is_empty()) {
                let word_w = face.width(word, style.size);
                if line.is_empty() && word_w <= width {
                    line.push_str(word);
                    line_w = word_w;
                } else if !line.is_empty() && line_w + space + word_w <= width {
                    line.push(' ');
                    line.push_str(word);
                    line_w += space + word_w;
                } else {
                    if !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        line_w = 0.0;
                    }
                    if word_w <= width {
                        line.push_str(word);
                        line_w = word_w;
                    } else {
                        // Too long for any line: break it where it reaches the edge.
                        for c in word.chars() {
                            let c_w = face.width(c.encode_utf8(&mut [0; 4]), style.size);
                            if !line.is_empty() && line_w + c_w > width && c_w > 0.0 {
                                lines.push(std::mem::take(&mut line));
                                line_w = 0.0;
                            }
                            line.push(c);
                            line_w += c_w;
                        }
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    /// `text` on one line, cut with an ellipsis if it is wider than `width`.
    pub(super) fn fit(&self, text: &str, style: Style, width: f32) -> String {
        let face = self.fonts.face(style.weight);
        if face.width(text, style.size) <= width {
            return text.to_string();
        }
        let room = width - face.width("…", style.size);
        let mut out = String::new();
        let mut w = 0.0;
        for c in text.chars() {
            w += face.width(c.encode_utf8(&mut [0; 4]), style.size);
            if w > room {
                break;
            }
            out.push(c);
        }
        out.push('…');
        out
    }
}

pub(super) fn or_dash(text: String) -> String {
    if text.is_empty() {
        "—".to_string()
    } else {
        text
    }
}

pub(super) fn layout(doc: &InvoiceDoc, fonts: &Fonts) -> Vec<PageOps> {
    let number = clean(&doc.number, false);
    let currency = clean(&doc.currency, false);
    let title = format!("Invoice {number}");
    let mut l = Layout::new(fonts, format!("{title} (continued)"));

    l.paragraph(
        MARGIN,
        CONTENT_W,
        Style::new(TITLE, Weight::Bold, BLACK),
        &title,
    );
    l.y += 14.0;

    parties(&mut l, &doc.issuer, &doc.recipient);
    l.y += 16.0;

    let mut details = vec![
        ("Invoice number", number),
        ("Status", clean(&doc.status, false)),
        ("Issued", clean(&doc.issued_at, false)),
        ("Due", clean(&doc.due_at, false)),
    ];
    if let Some(paid) = &doc.paid_at {
        details.push(("Paid", clean(paid, false)));
    }
    details.push(("Contract", clean(&doc.contract_title, false)));
    details.push(("Contract ID", clean(&doc.contract_id, false)));
    const LABEL_W: f32 = 96.0;
    for (label, value) in details {
        let lines = l.wrap(&or_dash(value), BODY_STYLE, CONTENT_W - LABEL_W);
        for (i, line) in lines.into_iter().enumerate() {
            l.ensure(BODY_STYLE.line_height());
            if i == 0 {
                // Share the value's baseline.
                l.y += BODY - SMALL;
                l.text(MARGIN, LABEL_STYLE, label.to_string());
                l.y -= BODY - SMALL;
            }
            l.text(MARGIN + LABEL_W, BODY_STYLE, line);
            l.y += BODY_STYLE.line_height();
        }
    }
    l.y += 22.0;

    lines_table(&mut l, doc, &currency);
    l.pages
}

/// "From" and "To", side by side if they fit on the page, one after the other if not.
pub(super) fn parties(l: &mut Layout, issuer: &Party, recipient: &Party) {
    const GUTTER: f32 = 24.0;
    let column_w = (CONTENT_W - GUTTER) / 2.0;
    let name_style = Style::new(11.0, Weight::Regular, BLACK);
    let column = |l: &Layout, label: &str, party: &Party| {
        let mut lines = vec![(HEAD_STYLE, label.to_string())];
        let name = or_dash(clean(&party.name, false));
        for line in l.wrap(&name, name_style, column_w) {
            lines.push((name_style, line));
        }
        let id = format!("Account ID: {}", or_dash(clean(&party.id, false)));
        for line in l.wrap(&id, LABEL_STYLE, column_w) {
            lines.push((LABEL_STYLE, line));
        }
        lines
    };
    let columns = [column(l, "From", issuer), column(l, "To", recipient)];
    let height = |c: &[(Style, String)]| c.iter().map(|(s, _)| s.line_height()).sum::<f32>();
    let tallest = height(&columns[0]).max(height(&columns[1]));
    if l.y + tallest <= BOTTOM {
        let top = l.y;
        for (i, column) in columns.into_iter().enumerate() {
            l.y = top;
            let x = MARGIN + i as f32 * (column_w + GUTTER);
            for (style, text) in column {
                l.text(x, style, text);
                l.y += style.line_height();
            }
        }
        l.y = top + tallest;
    } else {
        for (i, column) in columns.into_iter().enumerate() {
            if i > 0 {
                l.y += 8.0;
            }
            for (style, text) in column {
                l.ensure(style.line_height());
                l.text(MARGIN, style, text);
                l.y += style.line_height();
            }
        }
    }
}

pub(super) fn lines_table(l: &mut Layout, doc: &InvoiceDoc, currency: &str) {
    const GUTTER: f32 = 16.0;
    let amounts: Vec<String> = doc
        .lines
        .iter()
        .map(|line| format_amount(line.amount_minor, currency))
        .collect();
    let total = format_amount(doc.total_minor, currency);
    let total_style = Style::new(11.0, Weight::Bold, BLACK);
    let body = l.fonts.face(Weight::Regular);
    let amount_w = amounts
        .iter()
        .map(|a| body.width(a, BODY))
        .chain([
            l.fonts.face(Weight::Bold).width(&total, total_style.size),
            l.fonts.face(Weight::Bold).width("Amount", SMALL),
        ])
        .fold(0.0f32, f32::max)
        .min(CONTENT_W * 0.4);
    let description_w = CONTENT_W - amount_w - GUTTER;

    let header = |l: &mut Layout| {
        l.text(MARGIN, HEAD_STYLE, "Description".to_string());
        l.text_right(RIGHT, HEAD_STYLE, "Amount".to_string());
        l.y += HEAD_STYLE.line_height() + 2.0;
        let y = l.y;
        l.rule(y, 0.75, BLACK);
        l.y += 6.0;
    };
    l.ensure(HEAD_STYLE.line_height() + 8.0 + 2.0 * BODY_STYLE.line_height());
    header(l);

    if doc.lines.is_empty() {
        l.text(
            MARGIN,
            Style::new(BODY, Weight::Regular, GRAY),
            "No lines".to_string(),
        );
        l.y += BODY_STYLE.line_height() + 4.0;
    }
    let lh = BODY_STYLE.line_height();
    for (i, (line, amount)) in doc.lines.iter().zip(amounts).enumerate() {
        if i > 0 {
            let y = l.y;
            l.rule(y, 0.5, LIGHT);
            l.y += 5.0;
        }
        let description = or_dash(clean(&line.description, true));
        let description = l.wrap(&description, BODY_STYLE, description_w);
        let amount = l.wrap(&amount, BODY_STYLE, amount_w);
        let rows = description.len().max(amount.len());
        let mut description = description.into_iter();
        let mut amount = amount.into_iter();
        for _ in 0..rows {
            if l.ensure(lh) {
                header(l);
            }
            if let Some(text) = description.next() {
                l.text(MARGIN, BODY_STYLE, text);
            }
            if let Some(text) = amount.next() {
                l.text_right(RIGHT, BODY_STYLE, text);
            }
            l.y += lh;
        }
        l.y += 3.0;
    }

    let total_lines = l.wrap(&total, total_style, amount_w.max(CONTENT_W * 0.4));
    l.ensure(8.0 + total_lines.len() as f32 * total_style.line_height());
    let y = l.y;
    l.rule(y, 1.0, BLACK);
    l.y += 7.0;
    l.text(MARGIN, total_style, "Total".to_string());
    for text in total_lines {
        l.text_right(RIGHT, total_style, text);
        l.y += total_style.line_height();
    }
}
