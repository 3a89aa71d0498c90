//! burn-train's terminal dashboard for `scarseg train`: our own loop (data-parallel devices,
//! two-pass crops, our checkpoints) feeds burn's renderer the progress and the metrics that
//! its `Learner` would: training loss and learning rate per step, validation scar and
//! myocardium Dice (and each scar pattern's scar Dice, where the validation cases hold several)
//! and the share of time spent waiting for data per epoch. Used only when
//! stdout and stderr are terminals; otherwise `train` prints plain log lines.

use std::sync::Arc;

use burn_train::Interrupter;
use burn_train::logger::TrainingProgressLogger;
use burn_train::metric::{
    MetricAttributes, MetricDefinition, MetricEntry, MetricId, NumericAttributes, NumericEntry,
    SerializedEntry,
};
use burn_train::renderer::tui::TuiMetricsRendererWrapper;
use burn_train::renderer::{MetricState, MetricsRenderer, MetricsRendererTraining};
use scarseg_imaging::phantom::ScarPattern;

/// The dashboard's metrics, in the order they are registered.
#[derive(Debug, Clone, Copy)]
enum Metric {
    Loss,
    LearningRate,
    ScarDice,
    MyocardiumDice,
    WaitingForData,
    /// The validation scar Dice of one scar pattern's cases.
    ScarDiceOf(ScarPattern),
}

impl Metric {
    const ALL: [Metric; 5] = [
        Metric::Loss,
        Metric::LearningRate,
        Metric::ScarDice,
        Metric::MyocardiumDice,
        Metric::WaitingForData,
    ];

    fn name(self) -> String {
        match self {
            Metric::Loss => "Loss".into(),
            Metric::LearningRate => "Learning rate".into(),
            Metric::ScarDice => "Scar Dice".into(),
            Metric::MyocardiumDice => "Myocardium Dice".into(),
            Metric::WaitingForData => "Waiting for data".into(),
            Metric::ScarDiceOf(pattern) => format!("Scar Dice, {}", pattern.name()),
        }
    }

    fn attributes(self) -> NumericAttributes {
        let (unit, higher_is_better) = match self {
            Metric::Loss | Metric::LearningRate => (None, false),
            Metric::ScarDice | Metric::MyocardiumDice | Metric::ScarDiceOf(_) => (None, true),
            Metric::WaitingForData => (Some("%".to_string()), false),
        };
        NumericAttributes {
            unit,
            higher_is_better,
        }
    }

    fn id(self) -> MetricId {
        MetricId::new(Arc::new(self.name()))
    }
}

/// A running dashboard. Dropping it restores the terminal.
pub struct Dashboard {
    renderer: TuiMetricsRendererWrapper,
    interrupter: Interrupter,
    batch: usize,
}

impl Dashboard {
    /// Takes over the terminal for a run of `total_epochs`, continuing after `first_epoch`;
    /// `patterns` are the scar patterns whose validation Dice it also shows (none for one).
    pub fn start(
        total_epochs: usize,
        first_epoch: usize,
        batch: usize,
        label: &str,
        patterns: &[ScarPattern],
    ) -> Self {
        let interrupter = Interrupter::new();
        let mut renderer = TuiMetricsRendererWrapper::new(interrupter.clone(), None);
        let each = patterns.iter().map(|p| Metric::ScarDiceOf(*p));
        for metric in Metric::ALL.into_iter().chain(each) {
            renderer.register_metric(MetricDefinition {
                metric_id: metric.id(),
                name: Arc::new(metric.name()),
                description: None,
                attributes: MetricAttributes::Numeric(metric.attributes()),
            });
        }
        renderer.start(total_epochs, first_epoch, None, Some(label));
        Self {
            renderer,
            interrupter,
            batch,
        }
    }

    /// Training epoch `epoch` (counted from 0) of `steps` batches begins.
    pub fn epoch_start(&mut self, epoch: usize, steps: usize) {
        // The renderer counts the running epoch from 1 (`update_epoch(e)` shows e + 1); its
        // time estimate underflows if a split starts before the first epoch is set.
        self.renderer.update_epoch(epoch);
        self.renderer.start_split("train", steps * self.batch);
    }

    /// `samples` examples of the epoch are done; the running mean loss and the current rate.
    pub fn step(&mut self, samples: usize, loss: f64, lr: f64) {
        self.renderer.update_split(samples);
        self.renderer
            .update_train(numeric(Metric::Loss, loss, format!("{loss:.4}")));
        self.renderer
            .update_train(numeric(Metric::LearningRate, lr, format!("{lr:.2e}")));
    }

    /// The epoch ended with these validation figures (`by_pattern`: each pattern's scar Dice).
    pub fn epoch_end(
        &mut self,
        scar_dice: f64,
        myo_dice: f64,
        by_pattern: &[(ScarPattern, f64)],
        waiting: f64,
    ) {
        self.renderer.end_split();
        let percent = 100.0 * waiting;
        self.renderer.update_train(numeric(
            Metric::WaitingForData,
            percent,
            format!("{percent:.0}%"),
        ));
        self.renderer.update_valid(numeric(
            Metric::ScarDice,
            scar_dice,
            format!("{scar_dice:.4}"),
        ));
        self.renderer.update_valid(numeric(
            Metric::MyocardiumDice,
            myo_dice,
            format!("{myo_dice:.4}"),
        ));
        for &(pattern, dice) in by_pattern {
            self.renderer.update_valid(numeric(
                Metric::ScarDiceOf(pattern),
                dice,
                format!("{dice:.4}"),
            ));
        }
    }

    /// Whether the user chose "Stop the training" in the dashboard ('q', then 's').
    pub fn stop_requested(&self) -> bool {
        self.interrupter.should_stop()
    }
}

fn numeric(metric: Metric, value: f64, formatted: String) -> MetricState {
    MetricState::Numeric(
        MetricEntry::new(
            metric.id(),
            SerializedEntry::new(formatted, value.to_string()),
        ),
        Some(NumericEntry::Value(value)),
    )
}
