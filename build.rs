//! Generates the ONNX protobuf messages from the vendored official schema.

fn main() {
    let proto = "src/io/onnx/onnx.proto3";
    println!("cargo:rerun-if-changed={proto}");
    let files = protox::compile([proto], ["."]).expect("the vendored onnx.proto3 parses");
    prost_build::Config::new()
        // The schema's comments are not rustdoc (bare brackets, HTML).
        .disable_comments(["."])
        .compile_fds(files)
        .expect("prost generates the ONNX messages");
}
