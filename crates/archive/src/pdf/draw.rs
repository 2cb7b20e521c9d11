//! Drawing the laid-out pages with krilla: rules, and text placed glyph by glyph (or shaped).

use super::fonts::{Face, Fonts, Weight};
use super::layout::{
    CONTENT_W, FOOTER_BASELINE, GRAY, Ink, LIGHT, MARGIN, PAGE_H, PAGE_W, PageOps, RIGHT, RuleOp,
    Style, TextOp,
};
use super::text::{clean, needs_shaping};
use super::{InvoiceDoc, PdfError};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{GlyphId, KrillaGlyph, TextDirection};
use krilla::{Document, SerializeSettings};

pub(super) fn draw(
    doc: &InvoiceDoc,
    fonts: &Fonts,
    pages: &[PageOps],
) -> Result<Vec<u8>, PdfError> {
    let settings = SerializeSettings {
        // The title goes into the document information dictionary; XMP would only repeat it.
        xmp_metadata: false,
        enable_tagging: false,
        // An invoice's page description is a few kilobytes: compressing it costs about a fifth
        // of the rendering time and saves ~7 KB per invoice. The font program is compressed
        // regardless (krilla always does).
        compress_content_streams: false,
        ..SerializeSettings::default()
    };
    let mut document = Document::new_with(settings);
    let title: String = format!("Invoice {}", clean(&doc.number, false))
        .chars()
        .take(200)
        .collect();
    document.set_metadata(Metadata::new().title(title).creator("hiatus".to_string()));
    let page_settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| PdfError::Render("invalid page size".to_string()))?;
    let mut glyphs = Vec::new();
    let count = pages.len();
    for (n, ops) in pages.iter().enumerate() {
        let mut page = document.start_page_with(page_settings.clone());
        let mut surface = page.surface();
        for rule in &ops.rules {
            fill_rect(&mut surface, rule);
        }
        for op in &ops.texts {
            draw_line(&mut surface, fonts.face(op.weight), op, &mut glyphs);
        }
        // Footer.
        let footer_style = Style::new(8.0, Weight::Regular, GRAY);
        fill_rect(
            &mut surface,
            &RuleOp {
                x: MARGIN,
                y: FOOTER_BASELINE - 14.0,
                w: CONTENT_W,
                h: 0.5,
                ink: LIGHT,
            },
        );
        let page_label = format!("Page {} of {count}", n + 1);
        let label_w = fonts.regular.width(&page_label, footer_style.size);
        for (x, text) in [
            (MARGIN, "Exported from hiatus".to_string()),
            (RIGHT - label_w, page_label),
        ] {
            let op = TextOp {
                x,
                y: FOOTER_BASELINE,
                size: footer_style.size,
                weight: footer_style.weight,
                ink: footer_style.ink,
                text,
            };
            draw_line(&mut surface, &fonts.regular, &op, &mut glyphs);
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| PdfError::Render(e.to_string()))
}

pub(super) fn set_ink(surface: &mut Surface, ink: Ink) {
    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(ink.0, ink.0, ink.0).into(),
        ..Fill::default()
    }));
}

pub(super) fn fill_rect(surface: &mut Surface, rule: &RuleOp) {
    let Some(rect) = Rect::from_xywh(rule.x, rule.y, rule.w, rule.h) else {
        return;
    };
    let mut path = PathBuilder::new();
    path.push_rect(rect);
    if let Some(path) = path.finish() {
        set_ink(surface, rule.ink);
        surface.draw_path(&path);
    }
}

/// Draws one line of text with its baseline at `op.y`.
pub(super) fn draw_line(
    surface: &mut Surface,
    face: &Face,
    op: &TextOp,
    glyphs: &mut Vec<KrillaGlyph>,
) {
    if op.text.is_empty() {
        return;
    }
    set_ink(surface, op.ink);
    let start = Point::from_xy(op.x, op.y);
    if op.text.chars().any(needs_shaping) {
        surface.draw_text(
            start,
            face.font.clone(),
            op.size,
            &op.text,
            false,
            TextDirection::Auto,
        );
        return;
    }
    // One glyph per character, placed with the same advances and kerning `Face::width` uses.
    let m = &face.metrics;
    glyphs.clear();
    let mut prev = None;
    for (i, c) in op.text.char_indices() {
        let g = m.glyph(c);
        if let (Some(p), Some(last)) = (prev, glyphs.last_mut()) {
            last.x_advance += m.kern(p, g) / m.units_per_em;
        }
        glyphs.push(KrillaGlyph::new(
            GlyphId::new(u32::from(face.first_glyph) + u32::from(g)),
            m.advance(g) / m.units_per_em,
            0.0,
            0.0,
            0.0,
            i..i + c.len_utf8(),
            None,
        ));
        prev = Some(g);
    }
    surface.draw_glyphs(
        start,
        glyphs.as_slice(),
        face.font.clone(),
        &op.text,
        op.size,
        false,
    );
}
