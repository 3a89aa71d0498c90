//! The report the page exports: per slice and per stack areas (mm2), volumes (mm3, with slice
//! thickness), burden, the >5% flag, and the classic FWHM and n-SD burdens beside the network's,
//! with the weights that produced them. The same columns as `scarseg predict`'s report.csv.

use scarseg_imaging::Stack;
use scarseg_imaging::metrics::high_risk;
use scarseg_pipeline::StackResult;
use serde::Serialize;

/// The weights behind a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// Model name.
    pub name: String,
    /// Weights sha256.
    pub sha256: String,
    /// Device that ran the network.
    pub device: String,
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_default()
}

/// The CSV header.
pub const CSV_HEADER: &str = "input,level,slice,source,scar,myocardium,burden_percent,high_risk,\
fwhm_burden_percent,nsd2_burden_percent,nsd3_burden_percent,nsd5_burden_percent,\
nsd6_burden_percent,weights,weights_sha256";

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV rows (no header) for one analysed stack: one per slice (areas in mm2) and one for the
/// stack (volumes in mm3).
pub fn csv_rows(input: &str, stack: &Stack, result: &StackResult, p: &Provenance) -> Vec<String> {
    let mut rows = Vec::new();
    for (k, r) in result.slices.iter().enumerate() {
        let nsd = |n: u32| {
            opt(r
                .nsd_burden_percent
                .iter()
                .find(|(m, _)| *m == n)
                .and_then(|(_, b)| *b))
        };
        rows.push(format!(
            "{},slice,{k},{},{:.4},{:.4},{},{},{},{},{},{},{},{},{}",
            quote(input),
            quote(&r.source),
            r.scar_area_mm2,
            r.myocardium_area_mm2,
            opt(r.burden_percent),
            r.burden_percent
                .map(|b| high_risk(b).to_string())
                .unwrap_or_default(),
            opt(r.fwhm_burden_percent),
            nsd(2),
            nsd(3),
            nsd(5),
            nsd(6),
            quote(&p.name),
            p.sha256
        ));
    }
    let (scar, myo) = result.volumes_mm3(stack);
    rows.push(format!(
        "{},stack,,{},{scar:.4},{myo:.4},{},{},,,,,,{},{}",
        quote(input),
        quote(&stack.name),
        opt(result.burden_percent),
        result.high_risk,
        quote(&p.name),
        p.sha256
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use scarseg_imaging::Slice;
    use scarseg_imaging::postprocess::PostprocessOptions;
    use scarseg_pipeline::slice_result;

    #[test]
    fn rows_carry_areas_volumes_and_the_flag() {
        // Two 2x2 slices, 2 mm pixels (4 mm2 each), 10 mm thick.
        let mut a = Slice::new(2, 2, vec![1.0, 2.0, 3.0, 4.0], "a,1");
        a.spacing_mm = [2.0, 2.0];
        a.thickness_mm = 10.0;
        let b = a.clone();
        let opts = PostprocessOptions::default();
        // Slice a: myocardium 3 px, scar 1 px -> 12 mm2, 4 mm2, 33.3%.
        let ra = slice_result(
            &a,
            vec![0.9, 0.1, 0.1, 0.1],
            vec![0.9, 0.9, 0.9, 0.1],
            None,
            &opts,
        );
        // Slice b: myocardium 1 px, no scar.
        let rb = slice_result(&b, vec![0.1; 4], vec![0.9, 0.1, 0.1, 0.1], None, &opts);
        let stack = Stack {
            name: "s".into(),
            slices: vec![a, b],
            warnings: vec![],
        };
        let result = StackResult {
            slices: vec![ra, rb],
            burden_percent: Some(25.0),
            high_risk: true,
        };
        assert_eq!(result.volumes_mm3(&stack), (40.0, 160.0));
        let p = Provenance {
            name: "m".into(),
            sha256: "ab".into(),
            device: "CPU".into(),
        };
        let rows = csv_rows("in", &stack, &result, &p);
        assert_eq!(rows.len(), 3);
        assert!(
            rows[0].starts_with("in,slice,0,\"a,1\",4.0000,12.0000,33.3333,true,"),
            "{}",
            rows[0]
        );
        assert_eq!(
            rows[2],
            "in,stack,,s,40.0000,160.0000,25.0000,true,,,,,,m,ab"
        );
        assert_eq!(
            rows[0].split(',').count(),
            CSV_HEADER.split(',').count() + 1,
            "one quoted comma"
        );
    }
}
