//! Backend parity: the same weights and input on `flex` and on `wgpu` (natively Vulkan; in CI
//! Mesa's software driver lavapipe, which the test script installs) agree within 1e-3.

use burn::tensor::{Device, Distribution, Tensor};
use scarseg_model::{ScarSegNetConfig, Variant};

mod common;

#[test]
fn flex_and_wgpu_agree_on_both_logits() {
    let cpu = Device::flex();
    let gpu = common::wgpu_device();
    let config = ScarSegNetConfig::variant(Variant::Atto);
    let model = config.init(&cpu);
    let gpu_model = common::copy_to(&model, &config, &gpu);

    let x = Tensor::<4>::random([2, 1, 64, 96], Distribution::Normal(0.0, 1.0), &cpu);
    let on_cpu = model.forward(x.clone()).expect("flex forward");
    let on_gpu = gpu_model.forward(x.to_device(&gpu)).expect("wgpu forward");
    for (name, a, b) in [
        ("scar", on_cpu.scar, on_gpu.scar),
        ("myocardium", on_cpu.myocardium, on_gpu.myocardium),
    ] {
        let a = a.into_data().try_to_vec::<f32>().expect("f32");
        let b = b.into_data().try_to_vec::<f32>().expect("f32");
        let worst = a
            .iter()
            .zip(&b)
            .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(
            worst < 1e-3,
            "{name} logits differ by {worst} between flex and wgpu"
        );
    }
}

/// The device check passes on wgpu for what the pipeline runs (atto at 128 x 128, batch 1 and
/// 2 with mirroring), and for a training batch of 16 at that size: the configurations the
/// bundled model and its trainer use are inside the range where the GPU top-k is right.
#[test]
fn wgpu_top_k_is_right_for_the_bundled_configuration() {
    use scarseg_model::device_check::check_ase_topk;
    let gpu = common::wgpu_device();
    let config = ScarSegNetConfig::variant(Variant::Atto);
    for batch in [1, 2, 16] {
        assert_eq!(
            futures_lite::future::block_on(check_ase_topk(&config, &gpu, batch, 128, 128)),
            Ok(()),
            "batch {batch}"
        );
    }
}
