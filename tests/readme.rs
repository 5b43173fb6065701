//! The README stays true: every Rust snippet is either a doc test (run by
//! `cargo test --doc` through `ReadmeSnippets` in `src/lib.rs`) or an
//! excerpt of an example that runs in `make test` (or, for the Burn
//! crate's, `make test-burn`), its first line naming the example and every other line (but `// ...`) found in that file. Its
//! links to files in the repository lead somewhere.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The README's fenced blocks: (info string, lines).
fn blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = vec![];
    let mut open: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_string(), vec![])),
            (Some(_), Some(_)) => out.push(open.take().unwrap()),
            (Some((_, lines)), None) => lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    out
}

#[test]
fn every_snippet_runs_somewhere() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let (mut tested, mut excerpts) = (0, 0);
    for (info, lines) in blocks(&readme) {
        let words: Vec<&str> = info.split([' ', ',']).collect();
        if words.first() != Some(&"rust") {
            continue;
        }
        if !words.contains(&"ignore") {
            tested += 1;
            continue;
        }
        let example = lines[0]
            .strip_prefix("// ")
            .filter(|p| p.starts_with("examples/") || p.starts_with("burn/examples/"))
            .unwrap_or_else(|| panic!("an ignored snippet names no example: {lines:?}"));
        let source = std::fs::read_to_string(root().join(example)).unwrap();
        let source: Vec<&str> = source.lines().map(str::trim).collect();
        for line in &lines[1..] {
            let line = line.trim();
            if !line.is_empty() && line != "// ..." {
                assert!(source.contains(&line), "{example} has no line {line:?}");
            }
        }
        excerpts += 1;
    }
    assert!(
        tested >= 3 && excerpts >= 1,
        "{tested} tested, {excerpts} excerpts"
    );
}

#[test]
fn links_to_files_lead_somewhere() {
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut links = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for piece in text.split("](").skip(1) {
            let target = &piece[..piece.find(')').unwrap()];
            if target.starts_with("http") {
                continue;
            }
            let file = page
                .parent()
                .unwrap()
                .join(target.split('#').next().unwrap());
            assert!(
                file.exists(),
                "{} links to {target}, which is missing",
                page.display()
            );
            links += 1;
        }
    }
    assert!(links >= 5, "{links} links");
}
