"""`scarseg predict`'s DICOM segmentations and measurement reports against independent
readers and writers.

dciodvfy (David Clunie's dicom3tools) checks each file against the standard's Segmentation IOD;
highdicom (with pydicom) reads it as a viewer would and gives each source image's masks, which
must be the PNG masks predict wrote for that slice (for an enhanced multi-frame source, each
source frame's). The frames' positions and the patient and study attributes must be the source
images' own, and the phantom's images valid MR images. The measurement report (TID 1500) must reference the segmentation's segments and
give the volumes, masses, burden and flag of predict's report. dcmqi, which 3D Slicer runs, reads both
the same way, and the segmentation it writes of changed masks corrects predict to them; on an
oblique series, predict's NIfTI label volume holds the voxels ITK's reading of its segmentation
holds, in the same place.

    python tests/dicom_seg_check.py SCARSEG_BINARY [SEG_CHECK_MJS]

With SEG_CHECK_MJS (tests/ohif/seg_check.mjs beside its node_modules), dcmjs's Cornerstone
adapter, from which OHIF's SEG reading and writing derive, reads predict's segmentation as its
masks, and its own segmentations of changed masks correct predict to them.

Runs in the venv `scripts/test.sh` makes from tests/requirements-dicom.txt.
"""

import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
from PIL import Image
from pydicom.sr.codedict import codes

SEGMENTS = [
    # (label, category, property)
    ("Myocardium", "91723000", "49848007"),
    ("Scar", "49755003", "12402003"),
]


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True)


def check_iod(path, iod="Segmentation"):
    # dciodvfy exits 0 even on errors; its lines say what they are.
    out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    lines = (out.stdout + out.stderr).splitlines()
    errors = [line for line in lines if line.startswith("Error")]
    assert not errors, f"{path}: dciodvfy:\n" + "\n".join(errors)
    assert iod in lines, f"{path}: not checked as {iod}: {lines}"


def check_seg(seg_path, series_dir, report):
    seg = hd.seg.segread(seg_path)
    sources = {}
    for f in sorted(series_dir.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        sources[ds.SOPInstanceUID] = (f, ds)
    first = next(iter(sources.values()))[1]
    for keyword in [
        "StudyInstanceUID",
        "PatientName",
        "PatientID",
        "FrameOfReferenceUID",
    ]:
        assert seg.get(keyword) == first.get(keyword), (seg_path, keyword)
    assert seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    assert seg.SeriesInstanceUID != first.SeriesInstanceUID

    got = [
        (
            s.SegmentLabel,
            s.SegmentedPropertyCategoryCodeSequence[0].CodeValue,
            s.SegmentedPropertyTypeCodeSequence[0].CodeValue,
            s.SegmentAlgorithmType,
        )
        for s in seg.SegmentSequence
    ]
    assert got == [(*s, "AUTOMATIC") for s in SEGMENTS], got

    # Each frame lies where its source image lies.
    for item in seg.PerFrameFunctionalGroupsSequence:
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        position = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        want = [float(v) for v in sources[uid][1].ImagePositionPatient]
        assert np.allclose(position, want, atol=1e-4), (seg_path, position, want)

    # Each source image's masks, as highdicom gives them, are predict's PNGs of that slice.
    uids = list(sources)
    masks = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, segment_numbers=[1, 2]
    )
    record = next(r for r in report["inputs"] if r.get("dicom_seg") == seg_path.name)
    slice_of = {Path(r["source"]).name: k for k, r in enumerate(record["slices"])}
    name = record["output_name"]
    checked = 0
    for i, uid in enumerate(uids):
        k = slice_of[sources[uid][0].name]
        for s, kind in [(0, "myo"), (1, "scar")]:
            png = np.array(Image.open(seg_path.parent / f"{name}_{k:03d}_{kind}.png")) > 0
            assert np.array_equal(masks[i, :, :, s] > 0, png), (seg_path, uid, kind)
            checked += int(png.sum())
    assert checked > 0, f"{seg_path}: empty masks check nothing"


def check_sr(sr_path, seg_path, report):
    """The measurement report: valid (dciodvfy), and read by highdicom as a TID 1500 report
    whose two volumetric groups reference the segmentation's segments 1 and 2 and give predict's
    volumes, burden and flag."""
    check_iod(sr_path, "Comprehensive3DSR")
    sr = hd.sr.srread(sr_path)
    seg = pydicom.dcmread(seg_path)
    record = next(r for r in report["inputs"] if r.get("dicom_sr") == sr_path.name)
    assert sr.StudyInstanceUID == seg.StudyInstanceUID
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert [g.tracking_identifier for g in groups] == ["Myocardium", "Scar"]
    for number, g in enumerate(groups, start=1):
        reference = g.referenced_segment
        assert reference.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert reference.referenced_segment_numbers == [number]
    values = {(g.tracking_identifier, m.name.meaning): (m.value, m.unit.value)
              for g in groups for m in g.get_measurements()}
    flags = [q.value.meaning for q in groups[1].get_qualitative_evaluations()]
    check_report_numbers(values, flags, record)


def check_report_numbers(values, flags, record):
    """A reader's measurements of a report, {(group, quantity): (value, unit)}, and the scar
    group's qualitative answers are predict's volumes, masses, burden and flag (to a millionth:
    dcmqi prints six decimals)."""
    want = {
        ("Myocardium", "Volume"): (record["myocardium_volume_mm3"], "mm3"),
        ("Myocardium", "Mass"): (record["myocardium_mass_g"], "g"),
        ("Scar", "Volume"): (record["scar_volume_mm3"], "mm3"),
        ("Scar", "Mass"): (record["scar_mass_g"], "g"),
        ("Scar", "Scar burden, percent of myocardial volume"): (record["burden_percent"], "%"),
    }
    assert values.keys() == want.keys(), values
    for key, (value, unit) in want.items():
        close = abs(values[key][0] - value) <= 1e-6 * max(1.0, abs(value))
        assert close and values[key][1] == unit, (key, values[key], value)
    assert flags == ["Yes" if record["high_risk"] else "No"], flags


def check_signed_sr(binary, series_dir, tmp):
    """`predict --verified-by`: the report is valid and carries predict's numbers as before, is
    VERIFIED with the reader as its verifying observer, and highdicom finds the reader as its
    person observer beside the device."""
    out = tmp / "out-signed"
    name, organization = "Doe^Jane", "Cardiology, General Hospital"
    run(binary, "predict", str(series_dir), "--out", str(out), "--verified-by", name,
        "--verifying-organization", organization)
    report = json.loads((out / "report.json").read_text())
    sr_path = out / f"{series_dir.name}_sr.dcm"
    check_sr(sr_path, out / f"{series_dir.name}_seg.dcm", report)
    ds = pydicom.dcmread(sr_path)
    assert ds.VerificationFlag == "VERIFIED", ds.VerificationFlag
    verifier = ds.VerifyingObserverSequence[0]
    assert (str(verifier.VerifyingObserverName), verifier.VerifyingOrganization) == (
        name, organization)
    content = hd.sr.srread(sr_path).content
    people = content.get_observer_contexts(observer_type=codes.DCM.Person)
    assert len(people) == 1, people
    person = people[0].observer_identifying_attributes
    assert (str(person.name), person.organization_name) == (name, organization)
    devices = content.get_observer_contexts(observer_type=codes.DCM.Device)
    assert [d.observer_identifying_attributes.name for d in devices] == ["ScarSeg"], devices


def enhanced_from(series_dir, path):
    """The single-frame slices of `series_dir` as one enhanced (multi-frame) MR file, frames stored
    out of spatial order (slices 3, 1, 4, 2 of four by position), geometry in functional groups
    and one rescale for all, as some scanners export a stack; returns its frames' z in stored
    order."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    slices = sorted(
        (pydicom.dcmread(f) for f in series_dir.glob("*.dcm")),
        key=lambda d: float(d.ImagePositionPatient[2]),
    )
    order = [2, 0, 3, 1]
    assert len(slices) == len(order)
    values = [
        d.pixel_array.astype(np.float64) * float(d.RescaleSlope) + float(d.RescaleIntercept)
        for d in slices
    ]
    lo, hi = min(v.min() for v in values), max(v.max() for v in values)
    slope = (hi - lo) / 4095
    first = slices[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for keyword in ["PatientName", "PatientID", "StudyInstanceUID", "FrameOfReferenceUID"]:
        setattr(ds, keyword, first.get(keyword))
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "MR"
    ds.Rows, ds.Columns, ds.NumberOfFrames = first.Rows, first.Columns, len(order)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0

    def item(**elements):
        out = Dataset()
        for keyword, value in elements.items():
            setattr(out, keyword, value)
        return out

    ds.SharedFunctionalGroupsSequence = Sequence([item(
        PixelMeasuresSequence=Sequence([item(PixelSpacing=first.PixelSpacing,
                                             SliceThickness=first.SliceThickness)]),
        PlaneOrientationSequence=Sequence([item(
            ImageOrientationPatient=first.ImageOrientationPatient)]),
        PixelValueTransformationSequence=Sequence([item(
            RescaleSlope=f"{slope:.9g}", RescaleIntercept=f"{lo:.9g}", RescaleType="US")]),
    )])
    ds.PerFrameFunctionalGroupsSequence = Sequence([
        item(PlanePositionSequence=Sequence([item(
            ImagePositionPatient=slices[k].ImagePositionPatient)]))
        for k in order
    ])
    stored = [np.round((values[k] - lo) / slope).astype("<u2") for k in order]
    ds.PixelData = np.stack(stored).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return [float(slices[k].ImagePositionPatient[2]) for k in order]


def check_enhanced(seg_path, source_path, report):
    """The segmentation of an enhanced source references its frames: highdicom's masks per
    source frame are predict's PNGs of the slice read from that frame."""
    check_iod(seg_path)
    seg = hd.seg.segread(seg_path)
    source = pydicom.dcmread(source_path)
    frames = list(range(1, int(source.NumberOfFrames) + 1))
    masks = seg.get_pixels_by_source_frame(
        source_sop_instance_uid=source.SOPInstanceUID,
        source_frame_numbers=frames,
        segment_numbers=[1, 2],
    )
    record = next(r for r in report["inputs"] if r.get("dicom_seg") == seg_path.name)
    # predict names the slice read from frame f (from 0) "FILE [f]".
    slice_of = {r["source"].rsplit("[", 1)[1].rstrip("]"): k
                for k, r in enumerate(record["slices"])}
    name = record["output_name"]
    checked = 0
    for i, frame in enumerate(frames):
        k = slice_of[str(frame - 1)]
        for s, kind in [(0, "myo"), (1, "scar")]:
            png = np.array(Image.open(seg_path.parent / f"{name}_{k:03d}_{kind}.png")) > 0
            assert np.array_equal(masks[i, :, :, s] > 0, png), (seg_path, frame, kind)
            checked += int(png.sum())
    assert checked > 0, f"{seg_path}: empty masks check nothing"


def read_dicom_series(series_dir, report):
    """The series' images as (SOP Instance UID, Rows, Columns, predict's slice index of it), and
    predict's output name for it."""
    record = next(r for r in report["inputs"] if Path(r["input"]).name == series_dir.name)
    slice_of = {Path(r["source"]).name: k for k, r in enumerate(record["slices"])}
    images = []
    for f in sorted(series_dir.glob("*.dcm")):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        images.append((ds.SOPInstanceUID, ds.Rows, ds.Columns, slice_of[f.name]))
    return images, record["output_name"]


def check_ohif(binary, script, series_dir, out, report, tmp):
    """dcmjs's Cornerstone segmentation adapter, OHIF 2's SEG code, from which OHIF 3's derives
    (tests/ohif/seg_check.mjs), both ways: it reads predict's segmentation onto the series as
    predict's PNG masks (and so does OHIF 3's frame decoder), and the segmentations it writes of
    changed masks (its default, RLE
    FRACTIONAL with 1 of 255 where a segment is, and BINARY; segments known by their labels
    only) correct a new predict run to exactly those masks."""
    images, name = read_dicom_series(series_dir, report)

    def png(k, kind):
        return np.array(Image.open(out / f"{name}_{k:03d}_{kind}.png")) > 0

    read = tmp / "ohif-read.json"
    run("node", script, "read", str(series_dir), str(out / f"{name}_seg.dcm"), str(read))
    got = json.loads(read.read_text())
    labels, want = {}, {}
    for n, (uid, rows, cols, k) in enumerate(images):
        pixels = np.frombuffer(base64.b64decode(got[uid]), np.uint8).reshape(rows, cols)
        myo, scar = png(k, "myo"), png(k, "scar")
        assert np.array_equal(pixels & 1 > 0, myo), (series_dir, uid, "myocardium")
        assert np.array_equal(pixels & 2 > 0, scar), (series_dir, uid, "scar")
        # The changes a reader makes in OHIF: the first slice's scar called myocardium, and the
        # first five myocardium pixels of the last slice called scar.
        label = np.where(scar, 2, np.where(myo, 1, 0)).astype(np.uint8)
        if n == 0:
            assert (label == 2).any(), f"{series_dir}: no scar on the first slice to change"
            label[label == 2] = 1
        if n == len(images) - 1:
            label.ravel()[np.flatnonzero(label.ravel() == 1)[:5]] = 2
        labels[uid] = base64.b64encode(label.tobytes()).decode()
        want[k] = label
    # OHIF 3's frame decoder (Cornerstone3D's adapters) gives the same masks. (It refuses a
    # segmentation whose packed bits fill an odd number of bytes, padded to even as the
    # standard asks: this series' 8 frames of 145 x 228 fill an even number.)
    decoded = tmp / "ohif3-decoded.json"
    run("node", script, "decode3", str(out / f"{name}_seg.dcm"), str(decoded))
    assert json.loads(decoded.read_text()) == got, "Cornerstone3D decodes other masks"
    (tmp / "ohif-labels.json").write_text(json.dumps(labels))
    run("node", script, "write", str(series_dir), str(tmp / "ohif-labels.json"), str(tmp / "ohif"))
    for written in ["rle.dcm", "bitpacked.dcm"]:
        corrections = tmp / f"ohif-{written}"
        corrections.mkdir()
        (corrections / f"{name}_seg.dcm").write_bytes((tmp / "ohif" / written).read_bytes())
        again = tmp / f"ohif-out-{written}"
        run(binary, "predict", str(series_dir), "--corrections", str(corrections),
            "--out", str(again))
        for k, label in want.items():
            for kind, mask in [("myo", label > 0), ("scar", label == 2)]:
                got_mask = np.array(Image.open(again / f"{name}_{k:03d}_{kind}.png")) > 0
                assert np.array_equal(got_mask, mask), (written, k, kind)


def dcmqi(program):
    # dcmqi's console scripts, installed beside the venv's python.
    return str(Path(sys.executable).parent / program)


def segimage2itkimage(seg_path, folder):
    """dcmqi's reading of a segmentation: a NIfTI volume per segment and `meta.json`, in
    `folder`."""
    folder.mkdir()
    run(dcmqi("segimage2itkimage"), "--inputDICOM", str(seg_path), "--outputDirectory",
        str(folder), "-t", "nifti")
    return folder


def check_slicer(binary, series_dir, out, report, tmp):
    """dcmqi, the converters 3D Slicer's DICOM and QuantitativeReporting modules run, both ways:
    segimage2itkimage reads predict's segmentation as predict's PNG masks, with its segments'
    labels and codes; tid1500reader reads the measurement report as predict's numbers; and a
    segmentation itkimage2segimage writes of changed masks (as Slicer exports one: the volumes
    segimage2itkimage gave, edited, with its metadata, and empty slices left out) corrects a new
    predict run to exactly those masks."""
    record = next(r for r in report["inputs"] if Path(r["input"]).name == series_dir.name)
    name = record["output_name"]
    slice_of = {Path(r["source"]).name: k for k, r in enumerate(record["slices"])}
    positions = {}
    for f in sorted(series_dir.glob("*.dcm")):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        positions[slice_of[f.name]] = np.array([float(v) for v in ds.ImagePositionPatient])
    seg_path = out / f"{name}_seg.dcm"
    read = segimage2itkimage(seg_path, tmp / "slicer-read")
    meta = json.loads((read / "meta.json").read_text())
    got = [
        (
            a["labelID"],
            a["SegmentLabel"],
            a["SegmentedPropertyCategoryCodeSequence"]["CodeValue"],
            a["SegmentedPropertyTypeCodeSequence"]["CodeValue"],
        )
        for group in meta["segmentAttributes"]
        for a in group
    ]
    assert got == [(n, *s) for n, s in enumerate(SEGMENTS, start=1)], got

    # Each segment is one volume (the two overlap: scar lies inside the myocardium) on the
    # series' grid, x by y by z; the slice of each z is the source image at that position (ITK's
    # NIfTI is RAS, DICOM's positions LPS).
    images = {kind: nib.load(read / f"{number}.nii.gz") for number, kind in [(1, "myo"), (2, "scar")]}
    volumes = {kind: np.asarray(image.dataobj) for kind, image in images.items()}
    affine = images["myo"].affine
    slice_at = []
    for z in range(volumes["myo"].shape[2]):
        where = (affine @ [0, 0, z, 1])[:3] * [-1, -1, 1]
        slice_at.append(next(k for k, p in positions.items() if np.allclose(p, where, atol=1e-3)))
    assert sorted(slice_at) == sorted(positions), (slice_at, positions)

    def png(k, kind):
        return np.array(Image.open(out / f"{name}_{k:03d}_{kind}.png")) > 0

    checked = 0
    for z, k in enumerate(slice_at):
        for kind in ["myo", "scar"]:
            assert np.array_equal(volumes[kind][:, :, z].T > 0, png(k, kind)), (seg_path, z, kind)
            checked += int(png(k, kind).sum())
    assert checked > 0, f"{seg_path}: empty masks check nothing"

    # The measurement report, as QuantitativeReporting reads it.
    sr_json = tmp / "slicer-sr.json"
    run(dcmqi("tid1500reader"), "--inputDICOM", str(out / f"{name}_sr.dcm"),
        "--outputMetadata", str(sr_json))
    sr = json.loads(sr_json.read_text())
    seg_uid = pydicom.dcmread(seg_path, stop_before_pixels=True).SOPInstanceUID
    groups = sr["Measurements"]
    assert [(g["TrackingIdentifier"], g["ReferencedSegment"], g["segmentationSOPInstanceUID"])
            for g in groups] == [("Myocardium", 1, seg_uid), ("Scar", 2, seg_uid)], groups
    values = {(g["TrackingIdentifier"], m["quantity"]["CodeMeaning"]):
              (float(m["value"]), m["units"]["CodeValue"])
              for g in groups for m in g["measurementItems"]}
    flags = [q["conceptValue"]["CodeMeaning"] for q in groups[1]["qualitativeEvaluations"]]
    check_report_numbers(values, flags, record)

    # A reader's changes in Slicer: the scar of the slice at the first z called myocardium, the
    # slice at the second z erased (so the export leaves it out), and five myocardium pixels of
    # the last called scar.
    myo, scar = (np.moveaxis(volumes[kind], 2, 0).copy() for kind in ["myo", "scar"])
    assert scar[0].any(), f"{series_dir}: no scar on the first slice to change"
    scar[0] = 0
    myo[1], scar[1] = 0, 0
    free = np.flatnonzero((myo[-1] > 0).ravel() & (scar[-1] == 0).ravel())[:5]
    assert len(free) == 5, f"{series_dir}: too little myocardium on the last slice to change"
    scar[-1].ravel()[free] = 2
    edited = []
    for kind, data in [("myo", myo), ("scar", scar)]:
        path = tmp / f"slicer-edited-{kind}.nii.gz"
        image = images[kind]
        nib.save(nib.Nifti1Image(np.moveaxis(data, 0, 2), image.affine, image.header), path)
        edited.append(str(path))
    corrections = tmp / "slicer-corrections"
    corrections.mkdir()
    run(dcmqi("itkimage2segimage"), "--inputImageList", ",".join(edited),
        "--inputDICOMDirectory", str(series_dir), "--inputMetadata", str(read / "meta.json"),
        "--outputDICOM", str(corrections / f"{name}_seg.dcm"))
    written = pydicom.dcmread(corrections / f"{name}_seg.dcm", stop_before_pixels=True)
    assert int(written.NumberOfFrames) < 2 * len(slice_at), "no empty slice was left out"
    again = tmp / "slicer-out"
    run(binary, "predict", str(series_dir), "--corrections", str(corrections), "--out",
        str(again))
    for z, k in enumerate(slice_at):
        for kind, data in [("myo", myo), ("scar", scar)]:
            got_mask = np.array(Image.open(again / f"{name}_{k:03d}_{kind}.png")) > 0
            assert np.array_equal(got_mask, data[z].T > 0), ("Slicer's correction", z, kind)


def oblique_from(series_dir, folder):
    """`series_dir`'s slices laid again as an oblique stack, as short-axis views lie: rows and
    columns along two oblique directions, and files numbered against the slices' order along
    the normal (so a reader that takes file order, or assumes the normal points the way the
    files go, misplaces them). New series, instance and frame of reference UIDs."""
    from pydicom.uid import generate_uid

    row = np.array([0.8, 0.5, -0.3])
    row /= np.linalg.norm(row)
    col = np.array([-0.2, 0.6, 0.7])
    col -= (col @ row) * row
    col /= np.linalg.norm(col)
    normal = np.cross(row, col)
    origin = np.array([-60.5, 42.25, 17.0])
    folder.mkdir()
    series_uid, frame_uid = generate_uid(), generate_uid()
    files = sorted(series_dir.glob("*.dcm"))
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f)
        thickness = float(ds.SliceThickness)
        position = origin - k * thickness * normal
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in [*row, *col]]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
        ds.SliceLocation = f"{position @ normal:.6f}"
        ds.SeriesInstanceUID, ds.FrameOfReferenceUID = series_uid, frame_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(folder / f.name, enforce_file_format=True)


def check_label_volume_geometry(binary, series_dir, tmp):
    """predict's NIfTI label volume of a DICOM series lies where ITK (through dcmqi, as 3D Slicer
    reads the segmentation) puts the series' segmentation, voxel for voxel: the same grid in
    world coordinates (up to the order and direction of its axes), myocardium where segment 1
    is and scar where segment 2 is. On an oblique series whose files run against the normal."""
    oblique = tmp / "oblique"
    oblique_from(series_dir, oblique)
    out = tmp / "oblique-out"
    run(binary, "predict", str(oblique), "--out", str(out))
    report = json.loads((out / "report.json").read_text())
    check_iod(out / "oblique_seg.dcm")
    check_seg(out / "oblique_seg.dcm", oblique, report)
    ours = nib.load(out / "oblique_labels.nii.gz")
    labels = np.asarray(ours.dataobj)
    read = segimage2itkimage(out / "oblique_seg.dcm", tmp / "oblique-read")
    for number, kind, mask in [(1, "myocardium", labels >= 2), (2, "scar", labels >= 3)]:
        theirs = nib.load(read / f"{number}.nii.gz")
        # Our voxel (i, j, k) is ITK's voxel `to_theirs` @ (i, j, k, 1): a whole-number map that
        # permutes and flips axes, or the grids differ.
        to_theirs = np.linalg.inv(theirs.affine) @ ours.affine
        assert np.allclose(to_theirs, np.rint(to_theirs), atol=1e-3), (kind, to_theirs)
        to_theirs = np.rint(to_theirs).astype(int)
        index = np.indices(labels.shape).reshape(3, -1)
        mapped = to_theirs[:3, :3] @ index + to_theirs[:3, 3:]
        shape = np.array(theirs.shape)[:, None]
        assert ((mapped >= 0) & (mapped < shape)).all(), f"{kind}: grids differ"
        assert np.prod(theirs.shape) == labels.size, (kind, theirs.shape, labels.shape)
        segment = np.asarray(theirs.dataobj)[tuple(mapped)] > 0
        assert mask.any(), f"{kind}: empty masks check nothing"
        assert np.array_equal(mask.reshape(-1), segment), f"{kind}: other voxels than ITK's"


def main():
    binary = sys.argv[1]
    # tests/ohif/seg_check.mjs beside its node_modules (scripts/test.sh installs them).
    ohif_script = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run(binary, "phantom", "--out", str(tmp / "data"), "--count", "2", "--seed", "3",
            "--format", "dicom", "--slices", "4")
        series = [tmp / "data" / "phantom-3", tmp / "data" / "phantom-4"]
        out = tmp / "out"
        run(binary, "predict", *map(str, series), "--out", str(out))
        report = json.loads((out / "report.json").read_text())
        # The phantom's images are valid MR images, as a scanner's are, and its truth a valid
        # segmentation of them.
        for image in sorted(series[0].glob("*.dcm")):
            check_iod(image, "MRImage")
        check_iod(tmp / "data" / "phantom-3_seg.dcm")
        for directory in series:
            seg_path = out / f"{directory.name}_seg.dcm"
            check_iod(seg_path)
            check_seg(seg_path, directory, report)
            check_sr(out / f"{directory.name}_sr.dcm", seg_path, report)
        check_signed_sr(binary, series[1], tmp)
        check_slicer(binary, series[0], out, report, tmp)
        check_label_volume_geometry(binary, series[1], tmp)
        if ohif_script:
            check_ohif(binary, ohif_script, series[0], out, report, tmp)
        # The first series again as one enhanced multi-frame file.
        enhanced = tmp / "enhanced.dcm"
        enhanced_from(series[0], enhanced)
        out = tmp / "out-enhanced"
        run(binary, "predict", str(enhanced), "--out", str(out))
        report = json.loads((out / "report.json").read_text())
        check_enhanced(out / "enhanced_seg.dcm", enhanced, report)
    print("DICOM segmentations (of single-frame series and of an enhanced multi-frame file) and "
          "measurement reports (unsigned and signed by a reader): valid (dciodvfy) and read back "
          "by highdicom as predict's masks, numbers and verifier; read and written by dcmqi "
          "(3D Slicer's) as the same masks and numbers, and as the label volume's voxels in "
          "scanner space" + ("; read by dcmjs and Cornerstone3D (OHIF 2's and 3's) and written "
                           "by dcmjs as the same masks"
                           if ohif_script else ""))


if __name__ == "__main__":
    main()
