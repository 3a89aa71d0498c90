//! The DICOM measurement report writer: volumes and findings of a DICOM segmentation's segments
//! as a Comprehensive 3D SR document of template TID 1500 ("Imaging Measurement Report"), one
//! TID 1411 measurement group per segment referencing it, as dcmqi and highdicom write them, so
//! that 3D Slicer's Quantitative Reporting or highdicom read the numbers beside the masks.

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use crate::encode::{EncodeError, part10};
use crate::seg::{
    Code, Instance, SEGMENTATION_STORAGE, code_item, derived_object, ds, put_seq, put_str,
    series_references,
};
use crate::slice::{DicomSource, Slice};

/// SOP Class UID of the Comprehensive 3D SR Storage.
pub const COMPREHENSIVE_3D_SR: &str = "1.2.840.10008.5.1.4.1.1.88.34";

/// One measurement: what, how much, in which UCUM unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement<'a> {
    /// The quantity ("Volume", SNOMED CT 118565006).
    pub concept: Code<'a>,
    /// Its value.
    pub value: f64,
    /// Its unit, UCUM ("mm3").
    pub unit: Code<'a>,
}

/// A segment's measurements and evaluations (TID 1411).
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// Tracking Identifier: a name a reader sees ("Scar").
    pub tracking_id: &'a str,
    /// Tracking Unique Identifier.
    pub tracking_uid: &'a str,
    /// The segment's number in the segmentation.
    pub segment_number: u16,
    /// What the segment is (Finding).
    pub finding: Code<'a>,
    /// Where it is (Finding Site), if the finding is not a place itself.
    pub finding_site: Option<Code<'a>>,
    /// Numeric measurements.
    pub measurements: Vec<Measurement<'a>>,
    /// Qualitative evaluations: (question, answer).
    pub evaluations: Vec<(Code<'a>, Code<'a>)>,
}

/// The segmentation the report measures.
#[derive(Debug, Clone, Copy)]
pub struct SegReference<'a> {
    /// Its SOP Instance UID.
    pub sop_instance_uid: &'a str,
    /// Its Series Instance UID.
    pub series_uid: &'a str,
}

/// The person who reviewed the report and vouches for it: the SR's Verifying Observer (it is
/// then VERIFIED, not UNVERIFIED) and a person observer beside the device in its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verifier<'a> {
    /// A DICOM person name: "Family^Given" (or as the person writes it).
    pub name: &'a str,
    /// Their organization (a hospital, a department).
    pub organization: &'a str,
    /// When they verified it: YYYYMMDDHHMMSS, local time.
    pub datetime: &'a str,
}

impl Verifier<'_> {
    /// Why the name or organization cannot be written, if they cannot: empty, over 64
    /// characters (PN per component group, LO), or holding a backslash (DICOM's value
    /// separator) or a control character.
    pub fn check(&self) -> Result<(), String> {
        for (what, value) in [
            ("verifier's name", self.name),
            ("verifier's organization", self.organization),
        ] {
            if value.trim().is_empty() {
                return Err(format!("the {what} is empty"));
            }
            if value.chars().count() > 64 {
                return Err(format!("the {what} is over 64 characters"));
            }
            if value.chars().any(|c| c == '\\' || c.is_control()) {
                return Err(format!(
                    "the {what} holds a backslash or a control character"
                ));
            }
        }
        Ok(())
    }
}

const fn dcm(value: &'static str, meaning: &'static str) -> Code<'static> {
    Code {
        value,
        scheme: "DCM",
        meaning,
    }
}

/// A TID 1500 measurement report on the segmentation `seg` of `slices` (read from DICOM, one
/// study), with a group per segment, from the device named in `instance`; VERIFIED by
/// `verifier` if one is given, else UNVERIFIED. Part 10, explicit VR little endian.
pub fn measurement_report(
    slices: &[Slice],
    seg: SegReference<'_>,
    groups: &[Group<'_>],
    instance: &Instance<'_>,
    verifier: Option<&Verifier<'_>>,
) -> Result<Vec<u8>, EncodeError> {
    let err = |message: String| EncodeError {
        format: "DICOM SR",
        message,
    };
    if let Some(v) = verifier {
        v.check().map_err(err)?;
    }
    let sources: Vec<&DicomSource> = slices
        .iter()
        .map(|s| {
            s.dicom
                .as_ref()
                .ok_or_else(|| err(format!("{} was not read from DICOM", s.source)))
        })
        .collect::<Result<_, _>>()?;
    let study = *sources.first().ok_or_else(|| err("no slices".into()))?;

    let mut obj = derived_object(COMPREHENSIVE_3D_SR, "SR", instance, study);
    // SR Document Series: made by no performed procedure step.
    put_seq(
        &mut obj,
        tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
        Vec::new(),
    );
    // SR Document General: machine-made; verified if a person says so.
    put_str(&mut obj, tags::INSTANCE_NUMBER, VR::IS, "1");
    put_str(&mut obj, tags::COMPLETION_FLAG, VR::CS, "COMPLETE");
    match verifier {
        Some(v) => {
            put_str(&mut obj, tags::VERIFICATION_FLAG, VR::CS, "VERIFIED");
            let mut item = InMemDicomObject::new_empty();
            put_str(
                &mut item,
                tags::VERIFYING_OBSERVER_NAME,
                VR::PN,
                v.name.trim(),
            );
            put_seq(
                &mut item,
                tags::VERIFYING_OBSERVER_IDENTIFICATION_CODE_SEQUENCE,
                Vec::new(),
            );
            put_str(
                &mut item,
                tags::VERIFYING_ORGANIZATION,
                VR::LO,
                v.organization.trim(),
            );
            put_str(&mut item, tags::VERIFICATION_DATE_TIME, VR::DT, v.datetime);
            put_seq(&mut obj, tags::VERIFYING_OBSERVER_SEQUENCE, vec![item]);
        }
        None => put_str(&mut obj, tags::VERIFICATION_FLAG, VR::CS, "UNVERIFIED"),
    }
    put_str(&mut obj, tags::CONTENT_DATE, VR::DA, instance.date);
    put_str(&mut obj, tags::CONTENT_TIME, VR::TM, instance.time);
    put_seq(
        &mut obj,
        tags::PERFORMED_PROCEDURE_CODE_SEQUENCE,
        Vec::new(),
    );
    // Private coding schemes (a "99" prefix) used by the groups, declared as the standard asks.
    let mut private: Vec<&str> = groups
        .iter()
        .flat_map(|g| {
            g.measurements
                .iter()
                .flat_map(|m| [m.concept.scheme, m.unit.scheme])
                .chain(g.evaluations.iter().flat_map(|(q, a)| [q.scheme, a.scheme]))
        })
        .filter(|scheme| scheme.starts_with("99"))
        .collect();
    private.sort_unstable();
    private.dedup();
    if !private.is_empty() {
        put_seq(
            &mut obj,
            tags::CODING_SCHEME_IDENTIFICATION_SEQUENCE,
            private
                .into_iter()
                .map(|scheme| {
                    let mut item = InMemDicomObject::new_empty();
                    put_str(&mut item, tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme);
                    put_str(
                        &mut item,
                        tags::CODING_SCHEME_NAME,
                        VR::ST,
                        instance.manufacturer,
                    );
                    put_str(
                        &mut item,
                        tags::CODING_SCHEME_RESPONSIBLE_ORGANIZATION,
                        VR::ST,
                        instance.manufacturer,
                    );
                    item
                })
                .collect(),
        );
    }
    put_seq(
        &mut obj,
        tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
        vec![evidence(study, &sources, seg)],
    );

    // SR Document Content: the root container of TID 1500.
    put_str(&mut obj, tags::VALUE_TYPE, VR::CS, "CONTAINER");
    put_seq(
        &mut obj,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(dcm("126000", "Imaging Measurement Report"))],
    );
    put_str(&mut obj, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    put_seq(
        &mut obj,
        tags::CONTENT_TEMPLATE_SEQUENCE,
        vec![template("1500")],
    );
    let device_uid = format!("{}.1", instance.sop_instance_uid);
    let mut content = vec![code(
        "HAS CONCEPT MOD",
        dcm("121049", "Language of Content Item and Descendants"),
        Code {
            value: "en-US",
            scheme: "RFC5646",
            meaning: "English (United States)",
        },
    )];
    // TID 1002: the person who verified the report, then the device that measured.
    if let Some(v) = verifier {
        content.extend([
            code(
                "HAS OBS CONTEXT",
                dcm("121005", "Observer Type"),
                dcm("121006", "Person"),
            ),
            pname(
                "HAS OBS CONTEXT",
                dcm("121008", "Person Observer Name"),
                v.name.trim(),
            ),
            text(
                "HAS OBS CONTEXT",
                dcm("121009", "Person Observer's Organization Name"),
                v.organization.trim(),
            ),
        ]);
    }
    content.extend([
        code(
            "HAS OBS CONTEXT",
            dcm("121005", "Observer Type"),
            dcm("121007", "Device"),
        ),
        uidref(
            "HAS OBS CONTEXT",
            dcm("121012", "Device Observer UID"),
            &device_uid,
        ),
        text(
            "HAS OBS CONTEXT",
            dcm("121013", "Device Observer Name"),
            instance.manufacturer,
        ),
        code(
            "HAS CONCEPT MOD",
            dcm("121058", "Procedure reported"),
            Code {
                value: "241620005",
                scheme: "SCT",
                meaning: "Magnetic resonance imaging of heart",
            },
        ),
    ]);
    let mut measurements = container("CONTAINS", dcm("126010", "Imaging Measurements"));
    put_seq(
        &mut measurements,
        tags::CONTENT_SEQUENCE,
        groups
            .iter()
            .map(|g| group(g, seg, &study.series_uid))
            .collect(),
    );
    content.push(measurements);
    put_seq(&mut obj, tags::CONTENT_SEQUENCE, content);

    part10(
        obj,
        uids::EXPLICIT_VR_LITTLE_ENDIAN,
        COMPREHENSIVE_3D_SR,
        instance.sop_instance_uid,
    )
    .map_err(err)
}

/// The evidence the report rests on: the segmentation and the images it was drawn on, by
/// series, in their study.
fn evidence(
    study: &DicomSource,
    sources: &[&DicomSource],
    seg: SegReference<'_>,
) -> InMemDicomObject {
    let mut out = InMemDicomObject::new_empty();
    put_str(&mut out, tags::STUDY_INSTANCE_UID, VR::UI, &study.study_uid);
    let segmentation = (seg.series_uid, SEGMENTATION_STORAGE, seg.sop_instance_uid);
    let images = sources
        .iter()
        .map(|s| (&*s.series_uid, &*s.sop_class_uid, &*s.sop_instance_uid));
    put_seq(
        &mut out,
        tags::REFERENCED_SERIES_SEQUENCE,
        series_references(
            std::iter::once(segmentation).chain(images),
            tags::REFERENCED_SOP_SEQUENCE,
        ),
    );
    out
}

/// A TID 1411 volumetric measurement group for one segment.
fn group(g: &Group<'_>, seg: SegReference<'_>, source_series: &str) -> InMemDicomObject {
    let mut item = container("CONTAINS", dcm("125007", "Measurement Group"));
    put_seq(
        &mut item,
        tags::CONTENT_TEMPLATE_SEQUENCE,
        vec![template("1411")],
    );
    let mut content = vec![
        text(
            "HAS OBS CONTEXT",
            dcm("112039", "Tracking Identifier"),
            g.tracking_id,
        ),
        uidref(
            "HAS OBS CONTEXT",
            dcm("112040", "Tracking Unique Identifier"),
            g.tracking_uid,
        ),
        code("CONTAINS", dcm("121071", "Finding"), g.finding),
    ];
    if let Some(site) = g.finding_site {
        content.push(code(
            "HAS CONCEPT MOD",
            Code {
                value: "363698007",
                scheme: "SCT",
                meaning: "Finding Site",
            },
            site,
        ));
    }
    let mut segment = item_of("CONTAINS", "IMAGE", dcm("121191", "Referenced Segment"));
    let mut sop = InMemDicomObject::new_empty();
    put_str(
        &mut sop,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        SEGMENTATION_STORAGE,
    );
    put_str(
        &mut sop,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        seg.sop_instance_uid,
    );
    sop.put(DataElement::new(
        tags::REFERENCED_SEGMENT_NUMBER,
        VR::US,
        PrimitiveValue::from(g.segment_number),
    ));
    put_seq(&mut segment, tags::REFERENCED_SOP_SEQUENCE, vec![sop]);
    content.push(segment);
    content.push(uidref(
        "CONTAINS",
        dcm("121232", "Source series for segmentation"),
        source_series,
    ));
    for m in &g.measurements {
        let mut num = item_of("CONTAINS", "NUM", m.concept);
        let mut value = InMemDicomObject::new_empty();
        put_seq(
            &mut value,
            tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
            vec![code_item(m.unit)],
        );
        put_str(&mut value, tags::NUMERIC_VALUE, VR::DS, &ds(m.value));
        put_seq(&mut num, tags::MEASURED_VALUE_SEQUENCE, vec![value]);
        content.push(num);
    }
    for (question, answer) in &g.evaluations {
        content.push(code("CONTAINS", *question, *answer));
    }
    put_seq(&mut item, tags::CONTENT_SEQUENCE, content);
    item
}

fn template(id: &str) -> InMemDicomObject {
    let mut t = InMemDicomObject::new_empty();
    put_str(&mut t, tags::MAPPING_RESOURCE, VR::CS, "DCMR");
    put_str(&mut t, tags::TEMPLATE_IDENTIFIER, VR::CS, id);
    t
}

/// A content item's relationship, value type and concept name.
fn item_of(relationship: &str, value_type: &str, concept: Code<'_>) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_str(&mut item, tags::RELATIONSHIP_TYPE, VR::CS, relationship);
    put_str(&mut item, tags::VALUE_TYPE, VR::CS, value_type);
    put_seq(
        &mut item,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(concept)],
    );
    item
}

fn container(relationship: &str, concept: Code<'_>) -> InMemDicomObject {
    let mut item = item_of(relationship, "CONTAINER", concept);
    put_str(&mut item, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    item
}

fn code(relationship: &str, concept: Code<'_>, value: Code<'_>) -> InMemDicomObject {
    let mut item = item_of(relationship, "CODE", concept);
    put_seq(
        &mut item,
        tags::CONCEPT_CODE_SEQUENCE,
        vec![code_item(value)],
    );
    item
}

fn text(relationship: &str, concept: Code<'_>, value: &str) -> InMemDicomObject {
    let mut item = item_of(relationship, "TEXT", concept);
    put_str(&mut item, tags::TEXT_VALUE, VR::UT, value);
    item
}

fn pname(relationship: &str, concept: Code<'_>, value: &str) -> InMemDicomObject {
    let mut item = item_of(relationship, "PNAME", concept);
    put_str(&mut item, tags::PERSON_NAME, VR::PN, value);
    item
}

fn uidref(relationship: &str, concept: Code<'_>, value: &str) -> InMemDicomObject {
    let mut item = item_of(relationship, "UIDREF", concept);
    put_str(&mut item, tags::UID, VR::UI, value);
    item
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use dicom_core::Tag;
    use dicom_object::OpenFileOptions;
    use dicom_object::file::ReadPreamble;

    use super::*;
    use crate::seg::tests::INSTANCE;

    const PRIVATE: Code<'static> = Code {
        value: "X",
        scheme: "99TEST",
        meaning: "x",
    };

    fn slices() -> Vec<Slice> {
        (0..2)
            .map(|k| {
                let mut s = Slice::new(2, 2, vec![0.0; 4], format!("IM{k}.dcm"));
                s.dicom = Some(DicomSource {
                    sop_class_uid: uids::MR_IMAGE_STORAGE.into(),
                    sop_instance_uid: format!("1.2.3.4.{}", k + 1),
                    study_uid: "1.2.3".into(),
                    series_uid: "1.2.3.4".into(),
                    ..Default::default()
                });
                s
            })
            .collect()
    }

    fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
        obj.element(tag).expect("sequence").items().expect("items")
    }

    fn text(obj: &InMemDicomObject, tag: Tag) -> String {
        let value = obj.element(tag).expect("element").to_str().expect("text");
        value.trim_end_matches('\0').trim().to_string()
    }

    #[test]
    fn a_report_holds_a_group_per_segment_on_the_segmentation_and_its_images() {
        let group = Group {
            tracking_id: "Scar",
            tracking_uid: "2.25.7",
            segment_number: 2,
            finding: PRIVATE,
            finding_site: None,
            measurements: vec![Measurement {
                concept: PRIVATE,
                value: 1234.5,
                unit: PRIVATE,
            }],
            evaluations: vec![(PRIVATE, PRIVATE)],
        };
        let seg = SegReference {
            sop_instance_uid: "2.25.8",
            series_uid: "2.25.9",
        };
        let bytes = measurement_report(&slices(), seg, &[group], &INSTANCE, None).expect("writes");
        let obj = OpenFileOptions::new()
            .read_preamble(ReadPreamble::Always)
            .from_reader(Cursor::new(bytes))
            .expect("reads back");
        assert_eq!(text(&obj, tags::SOP_CLASS_UID), COMPREHENSIVE_3D_SR);
        assert_eq!(
            text(
                &items(&obj, tags::CONTENT_TEMPLATE_SEQUENCE)[0],
                tags::TEMPLATE_IDENTIFIER
            ),
            "1500"
        );
        // The scheme is declared once, however often it is used.
        let schemes = items(&obj, tags::CODING_SCHEME_IDENTIFICATION_SEQUENCE);
        assert_eq!(schemes.len(), 1);
        assert_eq!(text(&schemes[0], tags::CODING_SCHEME_DESIGNATOR), "99TEST");
        // Evidence: the segmentation's series, then the images' (two instances).
        let evidence = items(
            &items(&obj, tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)[0],
            tags::REFERENCED_SERIES_SEQUENCE,
        );
        let counts: Vec<(String, usize)> = evidence
            .iter()
            .map(|s| {
                (
                    text(s, tags::SERIES_INSTANCE_UID),
                    items(s, tags::REFERENCED_SOP_SEQUENCE).len(),
                )
            })
            .collect();
        assert_eq!(
            counts,
            [("2.25.9".to_string(), 1), ("1.2.3.4".to_string(), 2)]
        );
        // Root: language, observer (type, UID, name), procedure, then the measurements.
        let root = items(&obj, tags::CONTENT_SEQUENCE);
        assert_eq!(root.len(), 6);
        let measurements = items(&root[5], tags::CONTENT_SEQUENCE);
        assert_eq!(measurements.len(), 1);
        let group = items(&measurements[0], tags::CONTENT_SEQUENCE);
        let types: Vec<String> = group.iter().map(|i| text(i, tags::VALUE_TYPE)).collect();
        assert_eq!(
            types,
            ["TEXT", "UIDREF", "CODE", "IMAGE", "UIDREF", "NUM", "CODE"]
        );
        let segment = &items(&group[3], tags::REFERENCED_SOP_SEQUENCE)[0];
        assert_eq!(text(segment, tags::REFERENCED_SOP_INSTANCE_UID), "2.25.8");
        assert_eq!(text(segment, tags::REFERENCED_SEGMENT_NUMBER), "2");
        let value = &items(&group[5], tags::MEASURED_VALUE_SEQUENCE)[0];
        assert_eq!(text(value, tags::NUMERIC_VALUE), "1234.500000");
    }

    #[test]
    fn a_verified_report_names_its_verifier_as_observer_and_verifying_observer() {
        let seg = SegReference {
            sop_instance_uid: "2.25.8",
            series_uid: "2.25.9",
        };
        let verifier = Verifier {
            name: " Doe^Jane ",
            organization: "Cardiology, General Hospital",
            datetime: "20261204231500",
        };
        let bytes =
            measurement_report(&slices(), seg, &[], &INSTANCE, Some(&verifier)).expect("writes");
        let obj = OpenFileOptions::new()
            .read_preamble(ReadPreamble::Always)
            .from_reader(Cursor::new(bytes))
            .expect("reads back");
        assert_eq!(text(&obj, tags::VERIFICATION_FLAG), "VERIFIED");
        let observer = &items(&obj, tags::VERIFYING_OBSERVER_SEQUENCE)[0];
        assert_eq!(text(observer, tags::VERIFYING_OBSERVER_NAME), "Doe^Jane");
        assert_eq!(
            text(observer, tags::VERIFYING_ORGANIZATION),
            "Cardiology, General Hospital"
        );
        assert_eq!(
            text(observer, tags::VERIFICATION_DATE_TIME),
            "20261204231500"
        );
        // Root: language, the person (type, name, organization), the device (type, UID,
        // name), procedure, then the measurements.
        let root = items(&obj, tags::CONTENT_SEQUENCE);
        let types: Vec<String> = root.iter().map(|i| text(i, tags::VALUE_TYPE)).collect();
        assert_eq!(
            types,
            [
                "CODE",
                "CODE",
                "PNAME",
                "TEXT",
                "CODE",
                "UIDREF",
                "TEXT",
                "CODE",
                "CONTAINER"
            ]
        );
        let person = &items(&root[1], tags::CONCEPT_CODE_SEQUENCE)[0];
        assert_eq!(text(person, tags::CODE_VALUE), "121006");
        assert_eq!(text(&root[2], tags::PERSON_NAME), "Doe^Jane");
        assert_eq!(
            text(&root[3], tags::TEXT_VALUE),
            "Cardiology, General Hospital"
        );

        // Without one it is UNVERIFIED and names no person.
        let bytes = measurement_report(&slices(), seg, &[], &INSTANCE, None).expect("writes");
        let obj = OpenFileOptions::new()
            .read_preamble(ReadPreamble::Always)
            .from_reader(Cursor::new(bytes))
            .expect("reads back");
        assert_eq!(text(&obj, tags::VERIFICATION_FLAG), "UNVERIFIED");
        assert!(obj.element(tags::VERIFYING_OBSERVER_SEQUENCE).is_err());
        assert_eq!(items(&obj, tags::CONTENT_SEQUENCE).len(), 6);
    }

    #[test]
    fn a_verifier_that_cannot_be_written_is_refused_by_what_is_wrong() {
        let seg = SegReference {
            sop_instance_uid: "2.25.8",
            series_uid: "2.25.9",
        };
        let long = "x".repeat(65);
        for (name, organization, why) in [
            ("", "Hospital", "the verifier's name is empty"),
            ("Doe^Jane", "  ", "the verifier's organization is empty"),
            (
                "Doe\\Jane",
                "Hospital",
                "the verifier's name holds a backslash or a control character",
            ),
            (
                "Doe^Jane",
                "A\nB",
                "the verifier's organization holds a backslash or a control character",
            ),
            (
                &long,
                "Hospital",
                "the verifier's name is over 64 characters",
            ),
        ] {
            let v = Verifier {
                name,
                organization,
                datetime: "20261204231500",
            };
            let e = measurement_report(&slices(), seg, &[], &INSTANCE, Some(&v)).expect_err(why);
            assert_eq!(e.message, why);
        }
    }

    #[test]
    fn a_report_needs_dicom_images() {
        let mut plain = slices();
        plain[0].dicom = None;
        let seg = SegReference {
            sop_instance_uid: "2.25.8",
            series_uid: "2.25.9",
        };
        let e = measurement_report(&plain, seg, &[], &INSTANCE, None).expect_err("refused");
        assert_eq!(e.message, "IM0.dcm was not read from DICOM");
    }
}
