//! `wgpu-rnn plots`: every sweep, the floor, the stream latencies, the
//! stream's paths (a) to (d) and a peers CSV measured at small sizes and
//! drawn; a malformed peers CSV is one line, exit 1, and nothing measured.

use std::path::PathBuf;
use std::process::Command;

fn plots(out: &PathBuf, peers: &PathBuf) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wgpu-rnn"))
        .args(["plots", "--quick", "--out"])
        .arg(out)
        .arg("--peers")
        .arg(peers)
        .env(
            "XDG_RUNTIME_DIR",
            std::env::var("XDG_RUNTIME_DIR").unwrap_or("/tmp".into()),
        )
        .output()
        .unwrap()
}

#[test]
fn plots_measures_and_draws_every_picture() {
    let dir = std::env::temp_dir().join(format!("wgpu-rnn-plots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let peers = dir.join("peers_pytorch.csv");
    std::fs::write(
        &peers,
        "peer,config,shape,mode,ms\npytorch,S,lstm 1 64 64 64 1,infer,0.3\nours,S,lstm 1 64 64 64 1,infer,2.2\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = plots(&out, &peers);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in [
        "scaling.csv",
        "scaling.svg",
        "stream_latency.csv",
        "stream_latency.svg",
        "stream_paths.csv",
        "stream_paths.svg",
        "peers_pytorch.svg",
    ] {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(text.len() > 100, "{name}: {text}");
    }
    // Every cell on every axis: 3 cells x (2 + 2 + 2) points, positive and
    // finite; none far past its floor (timing noise may cross it a little
    // where the bare step's cost decides it).
    let csv = std::fs::read_to_string(out.join("scaling.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 18, "{csv}");
    for row in &rows {
        let tokens: f64 = row[6].parse().unwrap();
        let floor: f64 = row[7].parse().unwrap();
        assert!(
            tokens.is_finite() && tokens > 0.0 && floor.is_finite(),
            "{row:?}"
        );
        assert!(tokens < 2.0 * floor, "{row:?}");
    }
    let latency = std::fs::read_to_string(out.join("stream_latency.csv")).unwrap();
    assert_eq!(latency.lines().count(), 1 + 3 * 12, "{latency}");
    // (a) to (d) and (a) layer by layer, for the LSTM and the GRU, one and
    // two layers: positive.
    let paths = std::fs::read_to_string(out.join("stream_paths.csv")).unwrap();
    assert_eq!(paths.lines().count(), 1 + 4, "{paths}");
    for line in paths.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        assert!(["fused", "layered"].contains(&fields[5]), "{line}");
        for v in &fields[6..] {
            let v: f64 = v.parse().unwrap();
            assert!(v.is_finite() && v > 0.0, "{line}");
        }
    }
    let svg = std::fs::read_to_string(out.join("scaling.svg")).unwrap();
    assert!(
        svg.contains("wgpu-rnn plots --quick"),
        "the caption names the command"
    );

    // A malformed peers file: one line, exit 1, nothing written.
    std::fs::write(
        &peers,
        "peer,config,shape,mode,ms\npytorch,S,lstm,infer,fast\n",
    )
    .unwrap();
    let fresh = dir.join("fresh");
    let o = plots(&fresh, &peers);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(!fresh.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
