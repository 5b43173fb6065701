//! `wgpu-rnn info` and `info --all`: every adapter, its features and limits,
//! and the kernel paths it would run; `WGPU_RNN_GPU_TUNING=1` switches a
//! CPU adapter to a GPU's defaults.

use std::process::Command;

fn info(args: &[&str], env: &[(&str, &str)]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_wgpu-rnn"))
        .arg("info")
        .args(args)
        .envs(env.iter().copied())
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn info_all_describes_every_adapter_and_its_kernels() {
    let all = info(&["--all"], &[]);
    let adapters = all.matches("adapter: ").count();
    assert!(adapters >= 1, "{all}");
    for key in [
        "features: ",
        "limits: ",
        "defaults: ",
        "step kernels: ",
        "GEMM: ",
        "per-step params: ",
    ] {
        assert_eq!(all.matches(key).count(), adapters, "{key} in {all}");
    }
    let one = info(&[], &[]);
    assert!(
        one.contains("chosen:") && one.contains("step kernels: "),
        "{one}"
    );
}

#[test]
fn gpu_tuning_gives_a_gpus_defaults() {
    let gpu = info(&[], &[("WGPU_RNN_GPU_TUNING", "1")]);
    assert!(gpu.contains("defaults: GPU"), "{gpu}");
    assert!(gpu.contains("step kernels: workgroup tiles"), "{gpu}");
    assert!(gpu.contains("batch <= 16"), "{gpu}");
    let cpu = info(&[], &[("WGPU_RNN_GPU_TUNING", "0")]);
    assert!(cpu.contains("defaults: CPU adapter"), "{cpu}");
}
