//! Markdown for the desk's public pages. The security team writes Markdown; visitors get HTML
//! that can carry no script: raw HTML is refused when a page is saved (with the line it is on),
//! and links may only point to http(s), mailto or this site.

use domain::{FieldError, Rule};
use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

fn safe_destination(dest: &str) -> bool {
    let lower = dest.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:") {
        return true;
    }
    // Relative links within the site and fragments; never a scheme of any kind.
    match (lower.find(':'), lower.find(['/', '?', '#'])) {
        (None, _) => true,
        (Some(colon), Some(separator)) => separator < colon,
        (Some(_), None) => false,
    }
}

/// Checks a page's source: no raw HTML, no unsafe link schemes, within the size limit.
pub fn validate(field: &str, source: &str) -> Result<(), FieldError> {
    if source.len() > domain::desk::MAX_PAGE_BYTES {
        return Err(FieldError::new(field, Rule::TooLong, "must be at most 64 KiB"));
    }
    if source.trim().is_empty() {
        return Err(FieldError::new(field, Rule::Empty, "must not be empty"));
    }
    for (event, range) in Parser::new_ext(source, options()).into_offset_iter() {
        let line = source[..range.start].matches('\n').count() + 1;
        match event {
            Event::Html(_) | Event::InlineHtml(_) => {
                return Err(FieldError::new(
                    field,
                    Rule::InvalidValue,
                    format!("raw HTML is not allowed (line {line}); write Markdown only"),
                ))
            }
            Event::Start(Tag::Link { dest_url, .. }) | Event::Start(Tag::Image { dest_url, .. })
                if !safe_destination(&dest_url) =>
            {
                return Err(FieldError::new(
                    field,
                    Rule::InvalidValue,
                    format!("links may use http, https or mailto only (line {line}: {dest_url})"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Renders to HTML. Raw HTML is escaped as text and unsafe links are emptied, so even a source
/// that never passed [`validate`] (the shipped defaults, an old row) renders harmlessly.
pub fn render(source: &str) -> String {
    let events = Parser::new_ext(source, options()).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) if !safe_destination(&dest_url) => {
            Event::Start(Tag::Link { link_type, dest_url: CowStr::Borrowed(""), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) if !safe_destination(&dest_url) => {
            Event::Start(Tag::Image { link_type, dest_url: CowStr::Borrowed(""), title, id })
        }
        other => other,
    });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_html_never_passes() {
        assert!(render("# Policy\n\nWe *welcome* reports.").contains("<h1>Policy</h1>"));
        let hostile = "Hi <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))";
        let html = render(hostile);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        let err = validate("markdown", "fine\n\n<script>alert(1)</script>").unwrap_err();
        assert!(err.message.contains("line 3"), "{}", err.message);
        assert!(validate("markdown", "[x](javascript:alert(1))").is_err());
        assert!(validate("markdown", "[x](JaVaScRiPt:alert(1))").is_err());
        assert!(validate("markdown", "[x](data:text/html,hi)").is_err());
        assert!(validate("markdown", "[report](/security/report) and [mail](mailto:s@example.org)").is_ok());
        assert!(validate("markdown", "  ").is_err());
    }
}
