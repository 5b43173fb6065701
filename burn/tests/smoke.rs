mod common;
use burn::nn::LstmConfig;
use common::*;
use wgpu_rnn_burn::Accelerated;

#[test]
fn lstm_forward_backward_smoke() {
    let dev = device().autodiff();
    let lstm = LstmConfig::new(3, 5, true).init(&dev);
    let x = uniform([2, 4, 3], 1.0, 1, &dev).require_grad();
    assert_eq!(lstm.fallback_reason(&x), None);
    let (y, s) = lstm.forward_accelerated(x.clone(), None);
    let (yb, sb) = lstm.forward(x.clone(), None);
    assert_close("y", &y, &yb, 1e-5, 1e-4);
    assert_close("h", &s.hidden, &sb.hidden, 1e-5, 1e-4);
    assert_close("c", &s.cell, &sb.cell, 1e-5, 1e-4);
    let g = (y * 2.0).sum().backward();
    let gb = (yb * 2.0).sum().backward();
    assert_close("dx", &x.grad(&g).unwrap(), &x.grad(&gb).unwrap(), 1e-5, 1e-4);
}
