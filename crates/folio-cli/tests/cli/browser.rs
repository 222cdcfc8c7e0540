//! The drift report in a real browser: headless Chromium lays out the page
//! at 1280 px and a probe script (added to a copy; the report itself has no
//! scripts) measures it: no element wider than the page, every chart label
//! inside its chart, and every label whole (or cut with an ellipsis and
//! shown whole on hover). Runs when Chromium is installed; `.ci/run`
//! installs it and sets FOLIO_REQUIRE_BROWSER so the check cannot be
//! skipped there.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::Env;

/// The probe: opens every section, measures, and writes its findings as
/// JSON into `<pre id="probe">`.
const PROBE: &str = r#"<script>
(function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var W = document.documentElement.clientWidth;
  var res = { width: W, scroll: document.documentElement.scrollWidth,
              elements: 0, overflow: [], cut: [], partial: [], labels: 0, sections: 0 };
  document.body.querySelectorAll('*').forEach(function (el) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') return;
    var r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;
    res.elements++;
    if (r.right > W + 0.5 || r.left < -0.5) {
      res.overflow.push(el.tagName + '.' + (el.getAttribute('class') || '') + ' ' +
                        Math.round(r.left) + '..' + Math.round(r.right));
    }
  });
  res.sections = document.querySelectorAll('section.col').length;
  document.querySelectorAll('svg.chart text.bin').forEach(function (t) {
    res.labels++;
    var s = t.ownerSVGElement.getBoundingClientRect(), r = t.getBoundingClientRect();
    var shown = '';
    t.childNodes.forEach(function (n) { if (n.nodeType === 3) shown += n.nodeValue; });
    var title = t.querySelector('title');
    var whole = title ? title.textContent : '';
    if (r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5) {
      res.cut.push(whole);
    }
    var ok = shown === whole ||
      (shown.slice(-1) === '\u2026' && whole.indexOf(shown.slice(0, -1)) === 0 && whole.length > shown.length - 1);
    if (!ok) res.partial.push(shown + ' | ' + whole);
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(res);
  document.body.appendChild(pre);
})();
</script>"#;

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("FOLIO_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// What the probe measured of `html`, laid out 1280 px wide.
fn measure(e: &Env, html: &str) -> serde_json::Value {
    let browser = match chromium() {
        Some(b) => b,
        None if std::env::var_os("FOLIO_REQUIRE_BROWSER").is_some() => {
            panic!("FOLIO_REQUIRE_BROWSER is set but no Chromium is on PATH")
        }
        None => {
            eprintln!("skipped: no Chromium on PATH (set FOLIO_REQUIRE_BROWSER to require it)");
            return serde_json::Value::Null;
        }
    };
    let probed = html.replace("</body>", &format!("{PROBE}</body>"));
    assert_ne!(probed, html, "the report has a body");
    fs::write(e.p("probe.html"), probed).expect("write");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,1000",
        ])
        .arg(format!("--user-data-dir={}", e.p("chromium").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", e.p("probe.html").display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom
        .find("<pre id=\"probe\">")
        .unwrap_or_else(|| panic!("the probe ran: {}", String::from_utf8_lossy(&out.stderr)))
        + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").expect("closed");
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).expect("probe JSON")
}

/// The demo's datasets, and a wide table: 204 columns, long categories,
/// small floats whose bin labels are long, free text.
fn wide_report() -> (Env, String) {
    let e = Env::new();
    let fixtures = format!("{}/../../fixtures", env!("CARGO_MANIFEST_DIR"));
    for f in ["reviews.csv", "sensors.jsonl"] {
        e.write(f, &fs::read(format!("{fixtures}/{f}")).expect("fixture"));
    }
    e.write(
        ".folio/config.toml",
        b"[tables.\"reviews.csv\".meta]\nlabel = \"label\"\nannotator = \"annotator\"\nconfidence = \"confidence\"\nsource = \"source\"\n",
    );
    let wide = |shift: f64| {
        let mut head = vec!["id".to_string()];
        head.extend((0..200).map(|c| format!("measurement_with_a_long_name_{c:03}")));
        head.extend(["category".into(), "comment".into(), "tiny".into()]);
        let mut csv = head.join(",") + "\n";
        for i in 0..120 {
            let mut row = vec![i.to_string()];
            row.extend(
                (0..200).map(|c| format!("{:.4}", ((i * (c + 3)) % 97) as f64 + shift * c as f64)),
            );
            row.push(format!(
                "a-category-name-far-longer-than-a-chart-label-{}",
                (i + (shift as usize)) % 7
            ));
            row.push(format!(
                "free text number {i} with words {} {}",
                i * 7 % 13,
                i % 5
            ));
            row.push(format!(
                "{:.9}",
                0.0395312 + (i as f64) * 1e-4 + shift * 1e-3
            ));
            csv += &(row.join(",") + "\n");
        }
        csv
    };
    e.write("wide.csv", wide(0.0).as_bytes());
    e.ok(&[
        "commit",
        "reviews.csv",
        "sensors.jsonl",
        "wide.csv",
        "--key",
        "reviews.csv=id",
        "--key",
        "sensors.jsonl=id",
        "--key",
        "wide.csv=id",
        "-m",
        "one",
    ]);
    e.write("wide.csv", wide(3.0).as_bytes());
    let mut reviews = fs::read_to_string(e.p("reviews.csv")).expect("reviews");
    reviews += "41,\"new review great\",positive,ann,0.91,crawl://forum\n";
    e.write("reviews.csv", reviews.as_bytes());
    e.ok(&["commit", "-m", "two"]);
    e.ok(&["drift", "HEAD~1", "HEAD", "--html", "report.html"]);
    let html = fs::read_to_string(e.p("report.html")).expect("report");
    (e, html)
}

#[test]
fn the_report_fits_the_page_and_every_label_is_whole() {
    let (e, html) = wide_report();
    let m = measure(&e, &html);
    if m.is_null() {
        return;
    }
    assert_eq!(m["width"], 1280, "{m}");
    assert!(
        m["elements"].as_u64() > Some(1000),
        "the page was laid out: {m}"
    );
    assert!(
        m["sections"].as_u64() > Some(200),
        "a 200-column report: {m}"
    );
    assert!(
        m["labels"].as_u64() > Some(300),
        "chart labels measured: {m}"
    );
    assert_eq!(
        m["overflow"],
        serde_json::json!([]),
        "no element overflows: {m}"
    );
    assert!(
        m["scroll"].as_u64() <= Some(1280),
        "no horizontal scroll: {m}"
    );
    assert_eq!(
        m["cut"],
        serde_json::json!([]),
        "labels inside their charts: {m}"
    );
    assert_eq!(
        m["partial"],
        serde_json::json!([]),
        "labels whole or ellipsised: {m}"
    );
}

/// The probe can fail: the same checks on a page built to break them.
#[test]
fn the_probe_catches_overflow_and_cut_labels() {
    let e = Env::new();
    let bad = "<!doctype html><html><body><table><tr><td>a-very-long-unbreakable-cell-".to_string()
        + &"x".repeat(400)
        + "</td></tr></table><svg class=\"chart\" width=\"100\" height=\"50\"><text class=\"bin\" x=\"-30\" y=\"20\"><title>(0.03953, 0.05]</title>(0.03953, 0.05</text></svg></body></html>";
    let m = measure(&e, &bad);
    if m.is_null() {
        return;
    }
    assert_ne!(m["overflow"], serde_json::json!([]), "{m}");
    assert_eq!(m["cut"].as_array().map(Vec::len), Some(1), "{m}");
    assert_eq!(m["partial"].as_array().map(Vec::len), Some(1), "{m}");
}
