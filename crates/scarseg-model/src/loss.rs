//! Losses: the paper's (BCE + soft Dice + the Myocardium-Constrained Loss for scar, BCE + Dice
//! for myocardium, equal weights), and the options the other seeds need: ScarNet's Focal
//! Tversky, Dice and class-weighted cross-entropy (seed 001), and KL divergence to soft labels
//! for noisy annotations (seed 004).
//!
//! Every term is a mean over the batch, so a batch's loss does not grow with its size.
//! **\[decided\]** Dice and Tversky indices are computed per image, then averaged.

use burn::config::Config;
use burn::tensor::Tensor;
use burn::tensor::activation::{relu, sigmoid};
use serde::{Deserialize, Serialize};

use crate::model::SegLogits;

/// Which family of loss terms trains the scar head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// The paper: BCE + soft Dice + MCL on scar; BCE + Dice on myocardium.
    ScarSegNet,
    /// ScarNet (seed 001): Focal Tversky + Dice + class-weighted CE on scar; BCE + Dice on
    /// myocardium.
    ScarNet,
    /// Seed 004: KL divergence to (soft) labels + Dice + MCL on scar; KL + Dice on myocardium.
    KlDivergence,
}

/// Weights and hyper-parameters of the loss. Every weight defaults to 1 (the paper found equal
/// weighting most stable).
#[derive(Config, Debug)]
pub struct SegLossConfig {
    /// Which family of terms.
    #[config(default = "LossKind::ScarSegNet")]
    pub kind: LossKind,
    /// Weight of the scar pixel-wise term (BCE, weighted CE or KL).
    #[config(default = 1.0)]
    pub scar_pixel: f64,
    /// Weight of the scar soft Dice term.
    #[config(default = 1.0)]
    pub scar_dice: f64,
    /// Weight of the Myocardium-Constrained Loss (ScarSegNet and KL kinds).
    #[config(default = 1.0)]
    pub mcl: f64,
    /// Weight of the scar Focal Tversky term (ScarNet kind).
    #[config(default = 1.0)]
    pub focal_tversky: f64,
    /// Weight of the myocardium pixel-wise term (BCE, or KL for the KL kind).
    #[config(default = 1.0)]
    pub myo_pixel: f64,
    /// Weight of the myocardium soft Dice term.
    #[config(default = 1.0)]
    pub myo_dice: f64,
    /// Tversky alpha, the weight of false positives. **\[decided\]** 0.3 (seed 001 gives none).
    #[config(default = 0.3)]
    pub tversky_alpha: f64,
    /// Tversky beta, the weight of false negatives. **\[decided\]** 0.7.
    #[config(default = 0.7)]
    pub tversky_beta: f64,
    /// Focal exponent gamma. **\[decided\]** 0.75 (Abraham and Khan's 1/(4/3)).
    #[config(default = 0.75)]
    pub tversky_gamma: f64,
    /// Class weight of scar pixels in the weighted CE. **\[decided\]** 5.
    #[config(default = 5.0)]
    pub ce_scar_weight: f64,
    /// Class weight of non-scar pixels in the weighted CE.
    #[config(default = 1.0)]
    pub ce_background_weight: f64,
}

/// Ground truth for one batch. Hard labels are 0/1; the KL kind also accepts soft labels in
/// \[0, 1\].
#[derive(Debug, Clone)]
pub struct SegTargets {
    /// Scar label `[batch, 1, H, W]`.
    pub scar: Tensor<4>,
    /// Myocardium label (scar included) `[batch, 1, H, W]`.
    pub myocardium: Tensor<4>,
}

/// The total loss and its named terms (already weighted), each a one-element tensor.
#[derive(Debug, Clone)]
pub struct LossBreakdown {
    /// Sum of the weighted terms.
    pub total: Tensor<1>,
    /// `(name, weighted value)` of every term in the total.
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

/// Soft Dice smoothing epsilon (MODEL.md: eps = 1).
pub const DICE_EPS: f64 = 1.0;

/// log(1 + exp(x)), computed stably as relu(x) + log(1 + exp(-|x|)).
fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    relu(x.clone()) + x.abs().neg().exp().add_scalar(1.0).log()
}

/// Per-image sums over everything but the batch dimension: `[B, 1, H, W]` -> `[B]`.
fn per_image_sum(x: Tensor<4>) -> Tensor<1> {
    let [batch, ..] = x.dims();
    x.reshape([batch as i32, -1]).sum_dim(1).reshape([batch])
}

/// Mean binary cross-entropy of logits `z` against targets `t` (BCE with logits).
pub fn bce_with_logits(z: Tensor<4>, t: Tensor<4>) -> Tensor<1> {
    // -[t log s(z) + (1 - t) log(1 - s(z))] = softplus(z) - t z
    (softplus(z.clone()) - z * t).mean()
}

/// Soft Dice loss 1 - (2 sum(p t) + eps) / (sum p + sum t + eps), per image, batch mean.
pub fn soft_dice_loss(p: Tensor<4>, t: Tensor<4>, eps: f64) -> Tensor<1> {
    let intersection = per_image_sum(p.clone() * t.clone());
    let total = per_image_sum(p) + per_image_sum(t);
    ((intersection * 2.0 + eps) / (total + eps))
        .neg()
        .add_scalar(1.0)
        .mean()
}

/// The Myocardium-Constrained Loss: (1 / HW) sum sigmoid(z) (1 - M), batch mean.
pub fn myocardium_constrained_loss(scar_logits: Tensor<4>, myocardium: Tensor<4>) -> Tensor<1> {
    (sigmoid(scar_logits) * myocardium.neg().add_scalar(1.0)).mean()
}

/// Focal Tversky loss (1 - TI)^gamma with TI = (TP + eps) / (TP + alpha FP + beta FN + eps),
/// per image, batch mean.
pub fn focal_tversky_loss(
    p: Tensor<4>,
    t: Tensor<4>,
    alpha: f64,
    beta: f64,
    gamma: f64,
    eps: f64,
) -> Tensor<1> {
    let tp = per_image_sum(p.clone() * t.clone());
    let fp = per_image_sum(p.clone() * t.clone().neg().add_scalar(1.0));
    let fn_ = per_image_sum(p.neg().add_scalar(1.0) * t);
    let index = (tp.clone() + eps) / (tp + fp * alpha + fn_ * beta + eps);
    // Clamped away from 0: x^gamma with gamma < 1 has an infinite slope there.
    index
        .neg()
        .add_scalar(1.0)
        .clamp_min(1e-7)
        .powf_scalar(gamma)
        .mean()
}

/// Class-weighted binary cross-entropy:
/// mean(-w_scar t log p - w_background (1 - t) log(1 - p)).
pub fn weighted_bce_with_logits(
    z: Tensor<4>,
    t: Tensor<4>,
    scar_weight: f64,
    background_weight: f64,
) -> Tensor<1> {
    let pos = t.clone() * softplus(z.clone().neg()) * scar_weight;
    let neg = t.neg().add_scalar(1.0) * softplus(z) * background_weight;
    (pos + neg).mean()
}

/// Mean per-pixel KL divergence KL(q || p) between Bernoulli label distributions q (soft
/// labels) and the prediction p = sigmoid(z).
pub fn kl_divergence_with_logits(z: Tensor<4>, q: Tensor<4>) -> Tensor<1> {
    let q_complement = q.clone().neg().add_scalar(1.0);
    // q ln q with 0 ln 0 = 0: clamp inside the log only.
    let neg_entropy = q.clone() * q.clone().clamp_min(1e-12).log()
        + q_complement.clone() * q_complement.clone().clamp_min(1e-12).log();
    let cross_entropy = q * softplus(z.clone().neg()) + q_complement * softplus(z);
    (neg_entropy + cross_entropy).mean()
}

impl SegLossConfig {
    /// The loss of `logits` against `targets`.
    ///
    /// # Shapes
    /// - every logit and target `[batch, 1, H, W]`
    pub fn loss(&self, logits: &SegLogits, targets: &SegTargets) -> LossBreakdown {
        let scar_z = logits.scar.clone();
        let myo_z = logits.myocardium.clone();
        let scar_p = sigmoid(scar_z.clone());
        let myo_p = sigmoid(myo_z.clone());
        let t_scar = targets.scar.clone();
        let t_myo = targets.myocardium.clone();
        // Each kind differs in its pixel-wise terms and in whether MCL or Focal Tversky joins
        // the scar's soft Dice; both Dice terms are common to all.
        let (scar_pixel_name, scar_pixel) = match self.kind {
            LossKind::ScarSegNet => ("scar_bce", bce_with_logits(scar_z.clone(), t_scar.clone())),
            LossKind::ScarNet => (
                "scar_weighted_ce",
                weighted_bce_with_logits(
                    scar_z.clone(),
                    t_scar.clone(),
                    self.ce_scar_weight,
                    self.ce_background_weight,
                ),
            ),
            LossKind::KlDivergence => (
                "scar_kl",
                kl_divergence_with_logits(scar_z.clone(), t_scar.clone()),
            ),
        };
        let mut terms: Vec<(&'static str, Tensor<1>)> = vec![
            (scar_pixel_name, scar_pixel * self.scar_pixel),
            (
                "scar_dice",
                soft_dice_loss(scar_p.clone(), t_scar.clone(), DICE_EPS) * self.scar_dice,
            ),
        ];
        match self.kind {
            LossKind::ScarNet => terms.push((
                "scar_focal_tversky",
                focal_tversky_loss(
                    scar_p,
                    t_scar,
                    self.tversky_alpha,
                    self.tversky_beta,
                    self.tversky_gamma,
                    DICE_EPS,
                ) * self.focal_tversky,
            )),
            LossKind::ScarSegNet | LossKind::KlDivergence => terms.push((
                "mcl",
                myocardium_constrained_loss(scar_z, t_myo.clone()) * self.mcl,
            )),
        }
        let (myo_pixel_name, myo_pixel) = match self.kind {
            LossKind::KlDivergence => ("myo_kl", kl_divergence_with_logits(myo_z, t_myo.clone())),
            LossKind::ScarSegNet | LossKind::ScarNet => {
                ("myo_bce", bce_with_logits(myo_z, t_myo.clone()))
            }
        };
        terms.push((myo_pixel_name, myo_pixel * self.myo_pixel));
        terms.push((
            "myo_dice",
            soft_dice_loss(myo_p, t_myo, DICE_EPS) * self.myo_dice,
        ));
        let total = terms
            .iter()
            .map(|(_, v)| v.clone())
            .reduce(|a, b| a + b)
            .expect("at least one loss term");
        LossBreakdown { total, terms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{test_device, values};

    fn t(v: &[f32]) -> Tensor<4> {
        Tensor::<1>::from_floats(v, &test_device()).reshape([1, 1, 1, v.len()])
    }

    fn close(got: Tensor<1>, want: f64) {
        let got = values(got)[0] as f64;
        assert!((got - want).abs() < 1e-5, "{got} != {want}");
    }

    #[test]
    fn bce_by_hand() {
        // z = [0, ln 3], t = [1, 0]: [-ln 0.5, -ln 0.25] = [ln 2, ln 4], mean 1.0397207708.
        close(
            bce_with_logits(t(&[0.0, 3f32.ln()]), t(&[1.0, 0.0])),
            1.039_720_770_8,
        );
    }

    #[test]
    fn soft_dice_by_hand() {
        // p = [.5, .5, 1, 0], t = [1, 0, 1, 0]: I = 1.5, P = T = 2: 1 - (3 + 1) / (4 + 1) = 0.2.
        close(
            soft_dice_loss(t(&[0.5, 0.5, 1.0, 0.0]), t(&[1.0, 0.0, 1.0, 0.0]), 1.0),
            0.2,
        );
    }

    #[test]
    fn soft_dice_averages_per_image() {
        // Image 1 (p = t = [1, 0]): I = 1, P = T = 1: 1 - (2 + 1) / (2 + 1) = 0.
        // Image 2 (p = [1, 0], t = [0, 1]): I = 0, P = T = 1: 1 - 1 / 3 = 2/3. Mean 1/3.
        let p =
            Tensor::<1>::from_floats([1.0, 0.0, 1.0, 0.0], &test_device()).reshape([2, 1, 1, 2]);
        let g =
            Tensor::<1>::from_floats([1.0, 0.0, 0.0, 1.0], &test_device()).reshape([2, 1, 1, 2]);
        close(soft_dice_loss(p, g, 1.0), 1.0 / 3.0);
    }

    #[test]
    fn mcl_by_hand() {
        // sigmoid([0, ln 3]) = [0.5, 0.75]; outside the myocardium only pixel 2: 0.75 / 2.
        close(
            myocardium_constrained_loss(t(&[0.0, 3f32.ln()]), t(&[1.0, 0.0])),
            0.375,
        );
    }

    #[test]
    fn focal_tversky_by_hand() {
        // TP = 1.5, FP = 0.5, FN = 0.5: TI = 2.5 / (1.5 + 0.15 + 0.35 + 1) = 5/6;
        // (1/6)^0.75 = 0.2608474300.
        let loss = focal_tversky_loss(
            t(&[0.5, 0.5, 1.0, 0.0]),
            t(&[1.0, 0.0, 1.0, 0.0]),
            0.3,
            0.7,
            0.75,
            1.0,
        );
        close(loss, 0.260_847_430_0);
    }

    #[test]
    fn weighted_ce_by_hand() {
        // z = 0 everywhere: -ln 0.5 = ln 2 per pixel; weights 5 (scar) and 1: mean 3 ln 2.
        close(
            weighted_bce_with_logits(t(&[0.0, 0.0]), t(&[1.0, 0.0]), 5.0, 1.0),
            3.0 * 2f64.ln(),
        );
    }

    #[test]
    fn kl_by_hand() {
        // q = 0.5, p = 0.5: 0. q = 1, p = 0.75: ln(1 / 0.75) = 0.2876820725. Mean 0.1438410362.
        close(
            kl_divergence_with_logits(t(&[0.0, 3f32.ln()]), t(&[0.5, 1.0])),
            0.143_841_036_2,
        );
    }

    #[test]
    fn paper_loss_sums_its_five_terms() {
        let logits = SegLogits {
            scar: t(&[0.0, 3f32.ln()]),
            myocardium: t(&[0.0, 0.0]),
        };
        let targets = SegTargets {
            scar: t(&[1.0, 0.0]),
            myocardium: t(&[1.0, 0.0]),
        };
        let loss = SegLossConfig::new().loss(&logits, &targets);
        let names: Vec<_> = loss.terms.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["scar_bce", "scar_dice", "mcl", "myo_bce", "myo_dice"]
        );
        // scar_bce 1.0397208; scar_dice: p = [.5,.75], I = .5, P = 1.25, T = 1:
        // 1 - 2 / 3.25 = 0.3846154; mcl 0.375; myo_bce ln 2 = 0.6931472;
        // myo_dice: I = .5, P = 1, T = 1: 1 - 2 / 3 = 0.3333333. Total 2.8258167.
        close(loss.total, 2.825_816_7);
    }
}
