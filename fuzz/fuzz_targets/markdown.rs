//! The Markdown renderer and sanitiser for desk notes, advisories and finder messages: whatever
//! goes in, no tag outside the allowed set, no event handler and no script link comes out.
#![no_main]

const ALLOWED: &[&str] = &[
    "p",
    "strong",
    "em",
    "code",
    "pre",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "br",
    "hr",
    "del",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "input",
    "sup",
    "div",
    "span",
    "img",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let html = services::desk::markdown::render(text);
    let mut rest = html.as_str();
    while let Some(start) = rest.find('<') {
        let tag = &rest[start + 1..];
        let end = tag.find('>').unwrap_or_else(|| panic!("an unclosed tag in {html}"));
        let inside = &tag[..end];
        let name: String = inside.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        assert!(ALLOWED.contains(&name.to_ascii_lowercase().as_str()), "<{inside}> in {html}");
        let lower = inside.to_ascii_lowercase();
        // Attribute names only: quoted values (a title, a URL) may say anything.
        let mut names = String::new();
        let mut quoted = false;
        for c in lower.chars() {
            if c == '"' {
                quoted = !quoted;
            } else if !quoted {
                names.push(c);
            }
        }
        assert!(!names.contains(" on"), "an event handler in <{inside}>");
        for scheme in ["javascript:", "vbscript:", "data:"] {
            assert!(!lower.contains(&format!("=\"{scheme}")), "a script link in <{inside}>");
        }
        rest = &tag[end + 1..];
    }
});
