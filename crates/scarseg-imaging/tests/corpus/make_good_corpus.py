"""Writes the good corpus in `good/` with writers independent of ours (pydicom, and GDCM for
compression). `tests/dicom_variants.rs` checks what our decoder reads from each file, and
`scripts/fuzz.sh` seeds the DICOM fuzzers with them.

- enhanced_mr.dcm: an enhanced (multi-frame) MR image whose geometry and rescale (2v - 5) live
  only in functional groups, its three frames stored out of spatial order (z = 18.5, 28, 10 mm)
  with the stored values 48k .. 48k + 47 in frame k.
- enhanced_mr_un_sequences.dcm: enhanced_mr.dcm with its shared functional groups and a private
  sequence in VR UN of undefined length with implicit VR items (PS3.5 6.2.2), as an archive
  without their dictionary entries writes them.
- enhanced_mr_un_nested.dcm: enhanced_mr.dcm with each frame's Plane Position Sequence and a
  private sequence in VR UN of undefined length inside its per-frame functional groups (`un_nested`).
- ramp_un_elements.dcm, enhanced_mr_un_elements.dcm: elements the decoder reads (rescale, pixel
  spacing, the shared functional groups, a frame's position) in VR UN of defined length, as a
  writer without their dictionary entries writes them (`un_elements`).
- enhanced_psir.dcm: an enhanced MR image of a PSIR acquisition as some scanners export one:
  the magnitude and the real (phase-sensitive) image of each of two slices (z = 10 and 18 mm) in
  one file, frames stored magnitude, real, magnitude, real, told apart only by each frame's
  ComplexImageComponent; 40 x 48 pixels, stored value (i + 7 k) mod 4096 for pixel i of frame k.
- enhanced_cine.dcm: an enhanced MR image of two time points (TemporalPositionIndex 1 and 2) of
  two slices (z = 10 and 18 mm), frames stored (t, z) = (1, 18), (2, 10), (1, 10), (2, 18);
  8 x 6 pixels, stored value 48 k + i for pixel i of frame k.
- jpeg_lossless_sv1.dcm, jpeg2000_lossless.dcm, rle_lossless.dcm: one 16 x 12 MR slice of
  12-bit values ((21 i) mod 4096 for pixel i, row by row) in the two lossless syntaxes PACS
  exports use most, and RLE.
  Both decode everywhere (JPEG 2000 through hayro-jpeg2000, see the crate's Cargo.toml).
- jpeg_extended_12bit.dcm: the same slice in 12-bit lossy JPEG (JPEG Extended) by libjpeg-turbo;
  jpeg_extended_dcmtk.dcm: a 45 x 50 slice (a bright disc on a slope, 12-bit) in the same by
  DCMTK's dcmcjpeg (its IJG 12-bit codec, optimised Huffman tables, values kept: +sr); and beside each, what
  another decoder makes of it, uncompressed (`_reference.dcm`: Thomas Richter's libjpeg through
  pylibjpeg, and DCMTK's dcmdjpeg).
- jpeg_ls_lossless.dcm, jpeg_ls_near_lossless.dcm: the same slice compressed by GDCM (CharLS)
  to JPEG-LS, lossless and near-lossless with NEAR 3 (every value within 3 of the original);
  enhanced_mr_jpeg_ls.dcm: enhanced_mr.dcm's three frames compressed one fragment each by
  pydicom with pyjpegls (CharLS). Decoded here by pure_jpegls, so read in the browser too.
- rgb_planar.dcm, ybr_full.dcm, ybr_full_422.dcm: 4 x 4 8-bit colour images, uncompressed, in
  the layouts decoders get wrong: RGB one plane per channel (R = 15 i, G = 255 - 15 i,
  B = 7 i for pixel i), and YCbCr interleaved and 4:2:2 (Y1 Y2 Cb Cr per two pixels), both
  with Y = 15 i and chroma that differs from it.
- jpeg_rgb_no_markers.dcm: a 16 x 16 RGB JPEG, the left half (200, 40, 40) and the right
  (40, 40, 200), with neither JFIF nor Adobe marker and component identifiers 0, 1, 2, so that only
  the header's Photometric Interpretation RGB says it holds RGB (libjpeg-turbo, then edited).
- qform_left_handed.nii: a 5 x 4 x 3 NIfTI-1 volume written by nibabel with only a qform
  (sform code 0): rotated 0.4 rad about (0.3, 1, 0.2), zooms 1.2, 1.5, 8 mm, qfac -1 (a
  left-handed voxel grid, as many scanners' conversions give), origin (10, -20, 30) RAS. The
  test holds the positions and directions nibabel computes for it.
- nifti2.nii, nifti2_big_endian.nii.gz, nifti1_twin.nii: one 5 x 4 x 3 int16 volume, stored
  value i + 5 j + 20 k + 100 at voxel (i, j, k), scaled 0.5 v + 10, with an oblique sform
  (rotated 0.4 rad about (0.3, 1, 0.2), zooms 1.2, 1.5, 8 mm, origin (10, -20, 30) RAS), written
  by nibabel as NIfTI-2 (little endian; big endian and gzipped) and as NIfTI-1.
- implicit_body_explicit_meta.dcm, explicit_body_implicit_meta.dcm: the JPEG Lossless slice's
  uncompressed original with its data set in implicit VR behind a meta group that declares explicit
  VR little endian, and the reverse; implicit_body_group_length.dcm: the first with a group length
  (0008,0000) before its first element; implicit_body_jpeg_lossless.dcm: jpeg_lossless_sv1.dcm with
  its data set (encapsulated pixel data included) re-written in implicit VR. Some writers make
  such files; pydicom reads them with a warning.
- bare_implicit_le.dcm, bare_explicit_le.dcm, bare_explicit_be.dcm: the JPEG Lossless slice's
  uncompressed original as a bare data set (no preamble, "DICM" or file meta group, so no
  transfer syntax), as ACR-NEMA-era systems and some archives store images, in implicit VR
  (with a group length (0008,0000) first, as such writers put one), explicit VR little endian,
  and explicit VR big endian (pixel data big endian too); no_preamble.dcm: the slice as a Part
  10 file without its 128-byte preamble, "DICM" first. DCMTK, GDCM and pydicom (forced) read
  them.
- study.zip: a web PACS's study download as Python's zipfile writes one: the three seg_mr
  slices as a series in `SE1/` (deflated, with the folder's own entry), qform_left_handed.nii
  at the root as `volume.nii` (stored), a `readme.txt`, and macOS's `__MACOSX/SE1/._IM1.dcm`
  beside them; bad_archives/ in ../bad: an entry whose path climbs out of the archive
  (`../IM1.dcm`) beside a good one, a 2 MiB entry of zeros (deflated to 2 KiB, a bomb under a
  1 MiB limit) and study.zip cut before its central directory.
- nested.zip: archives inside an archive (`nested_archives`): `SE1.zip` holding the three seg_mr
  slices, `more/volume.zip` holding `deeper.zip` holding qform_left_handed.nii as `volume.nii`,
  `cut.zip` (study.zip cut as above) and a `readme.txt`; in ../bad, zip_nest_deep.zip (an image
  four archives in) and zip_bomb_nested.zip (zip_bomb.zip inside an archive).
- study.tar.gz: study.zip's files packed by Python's tarfile (GNU format, with the folder's own
  entry and an AppleDouble `SE1/._IM1.dcm` beside IM1, as macOS's tar adds) and gzip's module
  (`tar_archives`); paths_pax.tar and paths_gnu.tar: `./` before every path, a series folder
  named in 133 characters (past the header's 100: a pax record in one, a GNU long name in the
  other) holding seg_mr_0 as IM1.dcm, a symbolic link to it (its target's name too long as
  well), a named pipe and SE2/IM2.dcm (seg_mr_1); in ../bad, tar_slip.tar (`../IM1.dcm` and
  `/IM3.dcm` beside IM2.dcm), tar_bomb.tar.gz (2 MiB of zeros as IM1.dcm, 2 KiB gzipped),
  tar_hidden_bomb.tar.gz (the zeros as a hidden `._IM1.dcm`, then IM2.dcm) and
  tar_truncated.tar (study.tar.gz's tar cut 100 bytes into IM2's data).
- jpeg_baseline_colour.dcm: an 8 x 8 RGB image (left half (200, 40, 40), right half
  (40, 40, 200)) compressed by GDCM to JPEG baseline: lossy, so read back to within a few grey
  levels.

- seg_mr_0..2.dcm, seg_binary.dcm, seg_fractional.dcm, seg_labelmap.dcm: three MR slices and
  DICOM segmentations of them by highdicom (see `segmentations` below), which `labels_for` must
  read as the label maps the masks' formulas give; seg_fractional_rle.dcm, seg_labelmap_rle.dcm,
  and on three 32 x 32 slices seg_mr32_0..2.dcm seg_binary_j2k.dcm and seg_labelmap_j2k.dcm: the
  same with compressed frames (`compressed_segmentations`); seg_dcmjs_rle.dcm and
  seg_dcmjs_binary.dcm: dcmjs's, as OHIF 2 writes them (`dcmjs_segmentations`);
  seg_fractional_jls.dcm and seg_labelmap_jls.dcm: with JPEG-LS frames
  (`jpeg_ls_segmentations`).

    python3 -m pip install pydicom numpy python-gdcm nibabel highdicom pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pyjpegls imagecodecs && python3 make_good_corpus.py

(`jpeg_extended_dcmtk` also runs DCMTK's dcmcjpeg and dcmdjpeg: Debian's dcmtk package.)

writes them all; `python3 make_good_corpus.py enhanced_psir` (say) writes only those named.
"""

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

MR = "1.2.840.10008.5.1.4.1.1.4"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"
GOOD = Path(__file__).parent / "good"


def mr(sop_class, uid, rows, cols):
    """An uncompressed 12-bit monochrome MR dataset without pixel data."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid
    ds.Modality = "MR"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    return ds


def item(**elements):
    """A sequence item."""
    ds = Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


def shared_groups(spacing, **more):
    """The shared functional groups of an axial stack: pixel spacing (between rows, between
    columns, mm), an 8 mm thickness and the orientation, with any `more` groups."""
    return Sequence(
        [
            item(
                PixelMeasuresSequence=Sequence([item(PixelSpacing=spacing, SliceThickness=8)]),
                PlaneOrientationSequence=Sequence(
                    [item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]
                ),
                **more,
            )
        ]
    )


def enhanced_dataset():
    ds = mr(ENHANCED_MR, "1.2.826.0.1.3680043.10.1234.20.1", 8, 6)
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1234.20"
    ds.NumberOfFrames = 3
    ds.SharedFunctionalGroupsSequence = shared_groups(
        [1.25, 1.5],
        PixelValueTransformationSequence=Sequence(
            [item(RescaleSlope=2, RescaleIntercept=-5, RescaleType="US")]
        ),
    )
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [
            item(PlanePositionSequence=Sequence([item(ImagePositionPatient=[-5, -6, z])]))
            for z in [18.5, 28, 10]  # acquisition order, not spatial order
        ]
    )
    ds.PixelData = np.arange(3 * 8 * 6, dtype="<u2").tobytes()
    return ds


def enhanced():
    enhanced_dataset().save_as(GOOD / "enhanced_mr.dcm", enforce_file_format=True)


def enhanced_psir():
    ds = mr(ENHANCED_MR, "1.2.826.0.1.3680043.10.1234.24.1", 40, 48)
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1234.24"
    ds.SeriesNumber = 7
    ds.SeriesDescription = "LGE PSIR"
    ds.NumberOfFrames = 4
    ds.SharedFunctionalGroupsSequence = shared_groups([1.4, 1.4])
    frames = [(10, "MAGNITUDE"), (10, "REAL"), (18, "MAGNITUDE"), (18, "REAL")]
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [
            item(
                PlanePositionSequence=Sequence([item(ImagePositionPatient=[-30, -25, z])]),
                FrameContentSequence=Sequence(
                    [item(StackID="1", InStackPositionNumber=1 + (z == 18))]
                ),
                MRImageFrameTypeSequence=Sequence(
                    [
                        item(
                            FrameType=["ORIGINAL", "PRIMARY", "LGE", "NONE"],
                            ComplexImageComponent=component,
                        )
                    ]
                ),
            )
            for z, component in frames
        ]
    )
    pixels = (np.arange(40 * 48)[None, :] + 7 * np.arange(4)[:, None]) % 4096
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(GOOD / "enhanced_psir.dcm", enforce_file_format=True)


def enhanced_cine():
    ds = mr(ENHANCED_MR, "1.2.826.0.1.3680043.10.1234.25.1", 8, 6)
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1234.25"
    ds.NumberOfFrames = 4
    ds.SharedFunctionalGroupsSequence = shared_groups([1.5, 1.5])
    frames = [(1, 18), (2, 10), (1, 10), (2, 18)]
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [
            item(
                PlanePositionSequence=Sequence([item(ImagePositionPatient=[0, 0, z])]),
                FrameContentSequence=Sequence(
                    [
                        item(
                            StackID="1",
                            InStackPositionNumber=1 + (z == 18),
                            TemporalPositionIndex=t,
                        )
                    ]
                ),
            )
            for t, z in frames
        ]
    )
    ds.PixelData = np.arange(4 * 8 * 6, dtype="<u2").tobytes()
    ds.save_as(GOOD / "enhanced_cine.dcm", enforce_file_format=True)


def ramp_slice(uid):
    """One 16 x 12 MR slice of 12-bit values (21 i) mod 4096, uncompressed."""
    ds = mr(MR, uid, 16, 12)
    ds.PixelSpacing = [0.9, 1.1]
    ds.SliceThickness = 6
    ds.PixelData = ((np.arange(16 * 12) * 21) % 4096).astype("<u2").tobytes()
    return ds


def gdcm_compress(ds, outputs):
    """Writes `ds` compressed by GDCM once per (file name, GDCM transfer syntax, JPEG-LS NEAR)
    in `outputs` (NEAR 0: GDCM's default codec for the syntax)."""
    import gdcm
    raw = GOOD / "raw.dcm"
    ds.save_as(raw, enforce_file_format=True)
    for name, syntax, near in outputs:
        reader = gdcm.ImageReader()
        reader.SetFileName(str(raw))
        assert reader.Read()
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
        if near:
            codec = gdcm.JPEGLSCodec()
            codec.SetLossless(False)
            codec.SetLossyError(near)
            change.SetUserCodec(codec)
        change.SetInput(reader.GetImage())
        assert change.Change()
        writer = gdcm.ImageWriter()
        writer.SetFileName(str(GOOD / name))
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        assert writer.Write()
    raw.unlink()


def compressed():
    import gdcm
    gdcm_compress(ramp_slice("1.2.826.0.1.3680043.10.1234.21.1"), [
        ("jpeg_lossless_sv1.dcm", gdcm.TransferSyntax.JPEGLosslessProcess14_1, 0),
        ("jpeg2000_lossless.dcm", gdcm.TransferSyntax.JPEG2000Lossless, 0),
        ("rle_lossless.dcm", gdcm.TransferSyntax.RLELossless, 0),
    ])


def jpeg_extended():
    """The ramp slice in 12-bit lossy JPEG (JPEG Extended, SOF1 with 12-bit samples) by
    libjpeg-turbo through imagecodecs (GDCM's Python build writes no 12-bit lossy JPEG), which
    the decoder does not read: its error must say so."""
    import imagecodecs
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGExtended12Bit

    ds = ramp_slice("1.2.826.0.1.3680043.10.1234.27.1")
    pixels = np.frombuffer(ds.PixelData, dtype="<u2").reshape(16, 12)
    frame = imagecodecs.jpeg8_encode(pixels, level=95, bitspersample=12, lossless=False)
    ds.file_meta.TransferSyntaxUID = JPEGExtended12Bit
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    ds.save_as(GOOD / "jpeg_extended_12bit.dcm", enforce_file_format=True)
    write_reference(GOOD / "jpeg_extended_12bit.dcm")


def write_reference(path):
    """`path` decoded by pydicom (pylibjpeg's libjpeg for JPEG), written uncompressed beside it."""
    from pydicom import dcmread
    from pydicom.uid import ExplicitVRLittleEndian

    ds = dcmread(path)
    ds.PixelData = ds.pixel_array.astype("<u2").tobytes()
    ds["PixelData"].VR = "OW"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path.with_name(path.stem + "_reference.dcm"), enforce_file_format=True)


def jpeg_extended_dcmtk():
    import subprocess
    import tempfile

    ds = mr(MR, "1.2.826.0.1.3680043.10.1234.27.5", 45, 50)
    ds.PixelSpacing = [1.4, 1.4]
    ds.SliceThickness = 8
    y, x = np.mgrid[0:45, 0:50]
    disc = (x - 22) ** 2 + (y - 20) ** 2 < 12**2
    pixels = (300 + 20 * x + 9 * y + 2200 * disc).astype("<u2")
    ds.PixelData = pixels.tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        raw, jpeg, back = (Path(tmp) / n for n in ("raw.dcm", "jpeg.dcm", "back.dcm"))
        ds.save_as(raw, enforce_file_format=True)
        subprocess.run(["dcmcjpeg", "+ee", "+bt", "+sr", "+q", "85", str(raw), str(jpeg)], check=True)
        subprocess.run(["dcmdjpeg", str(jpeg), str(back)], check=True)
        (GOOD / "jpeg_extended_dcmtk.dcm").write_bytes(jpeg.read_bytes())
        (GOOD / "jpeg_extended_dcmtk_reference.dcm").write_bytes(back.read_bytes())


def jpeg_ls():
    import gdcm
    from pydicom.uid import JPEGLSLossless

    gdcm_compress(ramp_slice("1.2.826.0.1.3680043.10.1234.24.1"), [
        ("jpeg_ls_lossless.dcm", gdcm.TransferSyntax.JPEGLSLossless, 0),
        ("jpeg_ls_near_lossless.dcm", gdcm.TransferSyntax.JPEGLSNearLossless, 3),
    ])
    ds = enhanced_dataset()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1234.24.2"
    # pydicom would otherwise give the compressed copy a new, random instance UID each run.
    ds.compress(JPEGLSLossless, encoding_plugin="pyjpegls", generate_instance_uid=False)
    ds.save_as(GOOD / "enhanced_mr_jpeg_ls.dcm", enforce_file_format=True)


def write_misdeclared(ds, path, implicit_body):
    """Writes `ds` behind its own file meta group (whose transfer syntax it keeps) with the data
    set in implicit VR (`implicit_body`) or explicit VR little endian, whatever the meta group
    declares: the fault of some writers, which pydicom reads with a warning. pydicom's
    `save_as` refuses such a mismatch, so the parts are written one by one."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info

    fp = DicomBytesIO()
    fp.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(fp, ds.file_meta, enforce_standard=True)
    fp.is_implicit_VR, fp.is_little_endian = implicit_body, True
    body = Dataset()
    for element in ds:
        body.add(element)
    write_dataset(fp, body)
    path.write_bytes(fp.getvalue())


def encoded(element, implicit):
    """`element` as pydicom writes it in implicit or explicit VR little endian: header and value."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = implicit, True
    write_data_element(fp, element)
    return fp.getvalue()


def un_sequences():
    """enhanced_mr.dcm with its shared functional groups (its pixel spacing, orientation and
    rescale) and a private sequence written as an archive without their dictionary entries
    writes them: VR UN, undefined length, implicit VR items (PS3.5 6.2.2)."""
    from pydicom.filebase import DicomBytesIO

    ds = enhanced_dataset()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1234.28.1"
    ds.add_new(0x20050010, "LO", "SCARSEG TEST")
    ds.add_new(0x2005100D, "SQ", Sequence([item(PatientID="private"), item(StudyID="2")]))
    fp = DicomBytesIO()
    ds.save_as(fp, enforce_file_format=True)
    data = fp.getvalue()
    for tag in ["SharedFunctionalGroupsSequence", 0x2005100D]:
        ds[tag].is_undefined_length = True
        for entry in ds[tag].value:
            entry.is_undefined_length_sequence_item = True
        explicit = encoded(ds[tag], False)
        implicit = encoded(ds[tag], True)
        assert explicit[4:12] == b"SQ\0\0\xff\xff\xff\xff" and implicit[4:8] == b"\xff" * 4
        # The file above wrote the sequence with defined lengths: find it by its tag and VR.
        ds[tag].is_undefined_length = False
        for entry in ds[tag].value:
            entry.is_undefined_length_sequence_item = False
        encoded_defined = encoded(ds[tag], False)
        assert data.count(encoded_defined) == 1
        data = data.replace(encoded_defined, explicit[:4] + b"UN\0\0" + implicit[4:])
    (GOOD / "enhanced_mr_un_sequences.dcm").write_bytes(data)


def un_undefined(element):
    """`element`, a sequence, as an archive without its dictionary entry writes it: VR UN,
    undefined length, implicit VR items of undefined length (PS3.5 6.2.2)."""
    element.is_undefined_length = True
    for entry in element.value:
        entry.is_undefined_length_sequence_item = True
    explicit, implicit = encoded(element, False), encoded(element, True)
    assert explicit[4:12] == b"SQ\0\0\xff\xff\xff\xff" and implicit[4:8] == b"\xff" * 4
    return explicit[:4] + b"UN\0\0" + implicit[4:]


def un_nested():
    """enhanced_mr_un_nested.dcm: enhanced_mr.dcm whose per-frame functional groups (explicit VR,
    items of defined length) hold each frame's Plane Position Sequence and a private sequence in
    VR UN of undefined length with implicit VR items, as an archive that lacks their dictionary
    entries writes them inside a sequence it knows (a scanner's private per-frame groups)."""
    from pydicom.filebase import DicomBytesIO

    ds = enhanced_dataset()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1234.31.1"
    for k, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
        group.add_new(0x20050010, "LO", "SCARSEG TEST")
        group.add_new(0x2005100F, "SQ", Sequence([item(StudyID=str(k)), item(PatientID="p")]))
    fp = DicomBytesIO()
    ds.save_as(fp, enforce_file_format=True)
    data = fp.getvalue()
    per_frame = ds["PerFrameFunctionalGroupsSequence"]
    defined = encoded(per_frame, False)
    assert data.count(defined) == 1
    items = b""
    for group in per_frame.value:
        content = b"".join(
            un_undefined(e) if e.VR == "SQ" else encoded(e, False) for e in group
        )
        items += b"\xfe\xff\x00\xe0" + len(content).to_bytes(4, "little") + content
    sequence = defined[:4] + b"SQ\0\0" + len(items).to_bytes(4, "little") + items
    (GOOD / "enhanced_mr_un_nested.dcm").write_bytes(data.replace(defined, sequence))


def with_un(ds, path, elements):
    """Writes `ds` to `path` with each of `elements` (data elements of it, at any depth) as a
    writer without their dictionary entries writes them: VR UN with a defined length, the value
    as implicit VR little endian encodes it (PS3.5 6.2.2). pydicom writes known tags with their
    own VR, so the explicit encodings are replaced in the file's bytes."""
    from pydicom.filebase import DicomBytesIO

    fp = DicomBytesIO()
    ds.save_as(fp, enforce_file_format=True)
    data = fp.getvalue()
    # Innermost first: an outer element's encoding holds the inner ones' as pydicom wrote them.
    for element in elements:
        explicit, value = encoded(element, False), encoded(element, True)[8:]
        assert data.count(explicit) == 1, element.keyword
        un = explicit[:4] + b"UN\0\0" + len(value).to_bytes(4, "little") + value
        data = data.replace(explicit, un)
    path.write_bytes(data)


def un_elements():
    """ramp_un_elements.dcm: the 16 x 12 ramp slice with a rescale (2v - 5), whose Modality,
    Pixel Spacing, Slice Thickness, Rescale Slope and Intercept are in VR UN, as some anonymisers
    and archives write every element (pydicom-data's explicit_VR-UN.dcm, a TCIA CT image);
    enhanced_mr_un_elements.dcm: enhanced_mr.dcm with its shared functional groups in VR UN of
    defined length, and a frame's Image Position (Patient), inside an explicit VR sequence, too."""
    ds = ramp_slice("1.2.826.0.1.3680043.10.1234.30.1")
    ds.RescaleSlope, ds.RescaleIntercept = 2, -5
    keywords = ["Modality", "PixelSpacing", "SliceThickness", "RescaleSlope", "RescaleIntercept"]
    with_un(ds, GOOD / "ramp_un_elements.dcm", [ds[k] for k in keywords])

    ds = enhanced_dataset()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1234.30.2"
    # Sequences of undefined length, so that an element inside one may grow by the 4 bytes a
    # UN header has over a DS one.
    def undefined(dataset):
        for element in dataset:
            if element.VR == "SQ":
                element.is_undefined_length = True
                for entry in element.value:
                    entry.is_undefined_length_sequence_item = True
                    undefined(entry)
    undefined(ds)
    position = ds.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence[0]
    with_un(
        ds,
        GOOD / "enhanced_mr_un_elements.dcm",
        [position["ImagePositionPatient"], ds["SharedFunctionalGroupsSequence"]],
    )


def misdeclared():
    from pydicom import dcmread
    from pydicom.uid import ImplicitVRLittleEndian

    ds = ramp_slice("1.2.826.0.1.3680043.10.1234.26.1")
    write_misdeclared(ds, GOOD / "implicit_body_explicit_meta.dcm", True)
    ds = ramp_slice("1.2.826.0.1.3680043.10.1234.26.2")
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    write_misdeclared(ds, GOOD / "explicit_body_implicit_meta.dcm", False)
    # The first, with a group length (0008,0000) before its first element, as older writers put
    # one (pydicom leaves group lengths out, so it is put in the bytes).
    data = (GOOD / "implicit_body_explicit_meta.dcm").read_bytes()
    start = 144 + int.from_bytes(data[140:144], "little")
    end = start
    while int.from_bytes(data[end : end + 2], "little") == 0x0008:
        end += 8 + int.from_bytes(data[end + 4 : end + 8], "little")
    group_length = (0x0008).to_bytes(2, "little") + bytes(2) + (4).to_bytes(4, "little")
    group_length += (end - start).to_bytes(4, "little")
    (GOOD / "implicit_body_group_length.dcm").write_bytes(
        data[:start] + group_length + data[start:]
    )
    # Encapsulated pixel data in an implicit VR data set, as in pydicom's own SC_rgb_jpeg.dcm.
    ds = dcmread(GOOD / "jpeg_lossless_sv1.dcm")
    write_misdeclared(ds, GOOD / "implicit_body_jpeg_lossless.dcm", True)


def bare():
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    def data_set(uid, implicit, little):
        ds = ramp_slice(uid)
        if not little:
            ds.PixelData = np.frombuffer(ds.PixelData, "<u2").astype(">u2").tobytes()
        fp = DicomBytesIO()
        fp.is_implicit_VR, fp.is_little_endian = implicit, little
        body = Dataset()
        for element in ds:
            body.add(element)
        write_dataset(fp, body)
        return fp.getvalue()

    data = data_set("1.2.826.0.1.3680043.10.1234.27.1", True, True)
    end = 0
    while int.from_bytes(data[end : end + 2], "little") == 0x0008:
        end += 8 + int.from_bytes(data[end + 4 : end + 8], "little")
    group_length = (0x0008).to_bytes(2, "little") + bytes(2) + (4).to_bytes(4, "little")
    (GOOD / "bare_implicit_le.dcm").write_bytes(group_length + end.to_bytes(4, "little") + data)
    (GOOD / "bare_explicit_le.dcm").write_bytes(
        data_set("1.2.826.0.1.3680043.10.1234.27.2", False, True)
    )
    (GOOD / "bare_explicit_be.dcm").write_bytes(
        data_set("1.2.826.0.1.3680043.10.1234.27.3", False, False)
    )
    fp = DicomBytesIO()
    ramp_slice("1.2.826.0.1.3680043.10.1234.27.4").save_as(fp, enforce_file_format=True)
    (GOOD / "no_preamble.dcm").write_bytes(fp.getvalue()[128:])


def archives():
    import zipfile

    bad = GOOD.parent / "bad"
    with zipfile.ZipFile(GOOD / "study.zip", "w") as z:
        z.writestr(zipfile.ZipInfo("SE1/"), b"")
        for k in range(3):
            z.write(GOOD / f"seg_mr_{k}.dcm", f"SE1/IM{k + 1}.dcm", zipfile.ZIP_DEFLATED)
        z.write(GOOD / "qform_left_handed.nii", "volume.nii", zipfile.ZIP_STORED)
        z.writestr("readme.txt", "Exported by a web PACS.\n")
        z.writestr("__MACOSX/SE1/._IM1.dcm", b"\0\5\x16\7 resource fork")
    with zipfile.ZipFile(bad / "zip_slip.zip", "w") as z:
        z.writestr("../IM1.dcm", (GOOD / "seg_mr_0.dcm").read_bytes())
        z.write(GOOD / "seg_mr_1.dcm", "IM2.dcm")
    with zipfile.ZipFile(bad / "zip_bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("IM1.dcm", bytes(2 << 20))
    data = (GOOD / "study.zip").read_bytes()
    (bad / "zip_truncated.zip").write_bytes(data[: data.rfind(b"PK\x01\x02") // 2])


def nested_archives():
    import io
    import zipfile

    bad = GOOD.parent / "bad"

    def archive(entries, method=zipfile.ZIP_DEFLATED):
        """A ZIP of (name, bytes) entries, with a fixed date so that the bytes repeat."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", method) as z:
            for name, data in entries:
                z.writestr(zipfile.ZipInfo(name, (2026, 12, 7, 0, 0, 0)), data, method)
        return out.getvalue()

    slices = [(f"IM{k + 1}.dcm", (GOOD / f"seg_mr_{k}.dcm").read_bytes()) for k in range(3)]
    volume = (GOOD / "qform_left_handed.nii").read_bytes()
    deeper = archive([("volume.nii", volume)])
    study = (GOOD / "study.zip").read_bytes()
    (GOOD / "nested.zip").write_bytes(
        archive(
            [
                ("SE1.zip", archive(slices)),
                ("more/volume.zip", archive([("deeper.zip", deeper)], zipfile.ZIP_STORED)),
                ("cut.zip", study[: study.rfind(b"PK\x01\x02") // 2]),
                ("readme.txt", b"Series exported one archive each.\n"),
            ],
            zipfile.ZIP_STORED,
        )
    )
    deep = archive([("IM1.dcm", slices[0][1])])
    for level in range(4, 0, -1):
        deep = archive([(f"level{level}.zip", deep)], zipfile.ZIP_STORED)
    (bad / "zip_nest_deep.zip").write_bytes(deep)
    bomb = (bad / "zip_bomb.zip").read_bytes()
    (bad / "zip_bomb_nested.zip").write_bytes(archive([("zip_bomb.zip", bomb)], zipfile.ZIP_STORED))


def tar_archives():
    """Tar archives as Python's tarfile writes them, gzip's own module compressing one."""
    import gzip
    import io
    import tarfile

    bad = GOOD.parent / "bad"

    def entry(name, data=b"", kind=tarfile.REGTYPE, link=""):
        info = tarfile.TarInfo(name)
        info.size, info.type, info.linkname = len(data), kind, link
        info.mtime, info.mode = 1796601600, 0o755 if kind == tarfile.DIRTYPE else 0o644
        return info, data

    def archive(entries, fmt):
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=fmt) as t:
            for info, data in entries:
                t.addfile(info, io.BytesIO(data) if info.isreg() else None)
        return out.getvalue()

    slices = [(GOOD / f"seg_mr_{k}.dcm").read_bytes() for k in range(3)]
    volume = (GOOD / "qform_left_handed.nii").read_bytes()
    study = archive(
        [entry("SE1/", kind=tarfile.DIRTYPE)]
        + [entry(f"SE1/IM{k + 1}.dcm", data) for k, data in enumerate(slices)]
        + [
            entry("volume.nii", volume),
            entry("readme.txt", b"Exported by a colleague's tar czf.\n"),
            entry("SE1/._IM1.dcm", b"\0\5\x16\7 AppleDouble"),
        ],
        tarfile.GNU_FORMAT,
    )
    (GOOD / "study.tar.gz").write_bytes(gzip.compress(study, mtime=0))
    long = "series_" + "LGE_PSIR_short_axis_" * 6 + "stack"
    paths = [
        entry("./", kind=tarfile.DIRTYPE),
        entry(f"./{long}/IM1.dcm", slices[0]),
        entry("./latest.dcm", kind=tarfile.SYMTYPE, link=f"{long}/IM1.dcm"),
        entry("./pipe", kind=tarfile.FIFOTYPE),
        entry("./SE2/IM2.dcm", slices[1]),
    ]
    (GOOD / "paths_pax.tar").write_bytes(archive(paths, tarfile.PAX_FORMAT))
    (GOOD / "paths_gnu.tar").write_bytes(archive(paths, tarfile.GNU_FORMAT))
    (bad / "tar_slip.tar").write_bytes(
        archive(
            [entry("../IM1.dcm", slices[0]), entry("/IM3.dcm", slices[2]), entry("IM2.dcm", slices[1])],
            tarfile.GNU_FORMAT,
        )
    )
    zeros = bytes(2 << 20)
    bomb = archive([entry("IM1.dcm", zeros)], tarfile.GNU_FORMAT)
    (bad / "tar_bomb.tar.gz").write_bytes(gzip.compress(bomb, mtime=0))
    hidden = archive([entry("._IM1.dcm", zeros), entry("IM2.dcm", slices[1])], tarfile.GNU_FORMAT)
    (bad / "tar_hidden_bomb.tar.gz").write_bytes(gzip.compress(hidden, mtime=0))
    # Cut 100 bytes into IM2's data: IM1 reads, IM2 is cut short, nothing after it is read.
    header = study.index(b"SE1/IM2.dcm")
    (bad / "tar_truncated.tar").write_bytes(study[: header + 512 + 100])


def colour(uid, photometric, planar, rows, cols):
    """An uncompressed 8-bit colour MR dataset without pixel data."""
    ds = mr(SECONDARY_CAPTURE, uid, rows, cols)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = photometric
    ds.PlanarConfiguration = planar
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelSpacing = [1, 1]
    ds.SliceThickness = 1
    return ds


def colours():
    import gdcm
    i = np.arange(16)
    r, g, b = 15 * i, 255 - 15 * i, 7 * i
    ds = colour("1.2.826.0.1.3680043.10.1234.22.1", "RGB", 1, 4, 4)
    ds.PixelData = np.concatenate([r, g, b]).astype(np.uint8).tobytes()
    ds.save_as(GOOD / "rgb_planar.dcm", enforce_file_format=True)

    y, cb, cr = 15 * i, 255 - 15 * i, (40 * i) % 256
    ds = colour("1.2.826.0.1.3680043.10.1234.22.2", "YBR_FULL", 0, 4, 4)
    ds.PixelData = np.stack([y, cb, cr], 1).astype(np.uint8).tobytes()
    ds.save_as(GOOD / "ybr_full.dcm", enforce_file_format=True)

    ds = colour("1.2.826.0.1.3680043.10.1234.22.3", "YBR_FULL_422", 0, 4, 4)
    pairs = [[y[k], y[k + 1], cb[k], cr[k]] for k in range(0, 16, 2)]
    ds.PixelData = np.array(pairs).astype(np.uint8).tobytes()
    ds.save_as(GOOD / "ybr_full_422.dcm", enforce_file_format=True)

    ds = colour("1.2.826.0.1.3680043.10.1234.22.4", "RGB", 0, 8, 8)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, :4] = (200, 40, 40)
    rgb[:, 4:] = (40, 40, 200)
    ds.PixelData = rgb.tobytes()
    raw = GOOD / "raw.dcm"
    ds.save_as(raw, enforce_file_format=True)
    reader = gdcm.ImageReader()
    reader.SetFileName(str(raw))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGBaselineProcess1))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(GOOD / "jpeg_baseline_colour.dcm"))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    raw.unlink()


def rgb_jpeg():
    """jpeg_rgb_no_markers.dcm: 16 x 16 pixels, the left 8 columns (200, 40, 40) and the right 8
    (40, 40, 200), compressed by libjpeg-turbo (imagecodecs) in RGB without a colour transform,
    then its Adobe marker cut out and its component identifiers set to 0, 1, 2: a stream that
    only the header's Photometric Interpretation (RGB) says is RGB, as in the whole-slide tile of
    pydicom's SC_jpeg_no_color_transform.dcm (DCMTK's img2dcm)."""
    import imagecodecs
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:, :8] = (200, 40, 40)
    rgb[:, 8:] = (40, 40, 200)
    stream = imagecodecs.jpeg8_encode(
        rgb, level=100, colorspace="RGB", outcolorspace="RGB", subsampling="444"
    )
    segments, at = [stream[:2]], 2
    while True:
        marker, length = stream[at + 1], int.from_bytes(stream[at + 2 : at + 4], "big")
        segment = bytearray(stream[at : at + 2 + length])
        if marker == 0xC0:  # SOF0: three (identifier, sampling, table) after 8 bytes
            segment[10], segment[13], segment[16] = 0, 1, 2
        if marker == 0xDA:  # SOS: three (identifier, tables) after 5 bytes
            segment[5], segment[7], segment[9] = 0, 1, 2
        if marker != 0xEE:  # the Adobe marker goes
            segments.append(bytes(segment))
        at += 2 + length
        if marker == 0xDA:
            break
    frame = b"".join(segments) + stream[at:]
    ds = colour("1.2.826.0.1.3680043.10.1234.29.1", "RGB", 0, 16, 16)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    ds.save_as(GOOD / "jpeg_rgb_no_markers.dcm", enforce_file_format=True)


def qform():
    from nibabel.quaternions import angle_axis2mat
    import nibabel as nib
    data = np.arange(5 * 4 * 3, dtype=np.float32).reshape(5, 4, 3, order="F")
    zooms = np.array([1.2, 1.5, 8.0])
    affine = np.eye(4)
    affine[:3, :3] = angle_axis2mat(0.4, [0.3, 1, 0.2]) @ np.diag(zooms)
    affine[:3, 2] *= -1  # qfac -1
    affine[:3, 3] = [10, -20, 30]
    image = nib.Nifti1Image(data, None)
    image.set_qform(affine, code=1)
    image.set_sform(None, code=0)
    image.header.set_zooms(tuple(zooms))
    nib.save(image, GOOD / "qform_left_handed.nii")


def nifti2():
    from nibabel.quaternions import angle_axis2mat
    import nibabel as nib

    i, j, k = np.meshgrid(np.arange(5), np.arange(4), np.arange(3), indexing="ij")
    data = (i + 5 * j + 20 * k + 100).astype(np.int16)
    affine = np.eye(4)
    affine[:3, :3] = angle_axis2mat(0.4, [0.3, 1, 0.2]) @ np.diag([1.2, 1.5, 8.0])
    affine[:3, 3] = [10, -20, 30]
    for kind, name in [(nib.Nifti1Image, "nifti1_twin.nii"), (nib.Nifti2Image, "nifti2.nii")]:
        image = kind(data, affine)
        image.header.set_slope_inter(0.5, 10)
        nib.save(image, GOOD / name)
    image = nib.Nifti2Image(data.astype(">i2"), affine, nib.Nifti2Header().as_byteswapped(">"))
    image.header.set_slope_inter(0.5, 10)
    nib.save(image, GOOD / "nifti2_big_endian.nii.gz")


SEG_STUDY = "1.2.826.0.1.3680043.10.1234.30"


def seg_masks(k, rows=8, cols=6):
    """Slice k's masks, rows x cols, pixel i row by row: myocardium where (i + k) is even, scar
    where i % 5 == k on slices 1 and 2 (none on slice 0, whose scar frame a writer leaves out),
    blood pool on the first four pixels (a segment that is neither)."""
    i = np.arange(rows * cols).reshape(rows, cols)
    myocardium = (i + k) % 2 == 0
    scar = (i % 5 == k) & (k > 0)
    pool = i < 4
    return myocardium, scar, pool


def seg_sources(name, series, rows, cols):
    """NAME_0..2.dcm: three single-frame MR slices (rows x cols, z = 10, 18, 26 mm, stored value
    i + rows cols k) of series SEG_STUDY.SERIES, written and returned."""
    sources = []
    for k in range(3):
        ds = mr(MR, f"{SEG_STUDY}.{series}.{k + 1}", rows, cols)
        ds.StudyInstanceUID = SEG_STUDY
        ds.SeriesInstanceUID = f"{SEG_STUDY}.{series}"
        ds.FrameOfReferenceUID = f"{SEG_STUDY}.9"
        ds.PatientName, ds.PatientID = "Seg^Fixture", "SEG-1"
        ds.PatientBirthDate, ds.PatientSex = "", ""
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20260101", "120000", "1"
        ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
        ds.SeriesNumber, ds.InstanceNumber = 2 + series, k + 1
        ds.PixelSpacing, ds.SliceThickness = [1.25, 1.5], 8
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-5, -6, 10 + 8 * k]
        ds.PixelData = (np.arange(rows * cols) + rows * cols * k).astype("<u2").tobytes()
        ds.save_as(GOOD / f"{name}_{k}.dcm", enforce_file_format=True)
        sources.append(ds)
    return sources


def write_seg(file, sources, kind, series, transfer_syntax=None):
    """A highdicom segmentation of `sources` (seg_masks on their grid) as GOOD/FILE, in series
    SEG_STUDY.SERIES. kind: "binary" (segment 1 "Infarct" coded SNOMED CT 55641003, 2 "LV
    myocardium" 74281007, 3 "LV blood pool"; empty frames left out, as highdicom does),
    "fractional" (maximum 200: segment 1 the myocardium, at 150 where it is and 90 on the blood
    pool, which is under half and so not myocardium; segment 2 the scar at 200) or "labelmap"
    (the binary one's segments as values: 1 where scar, else 2 where myocardium, else 3 on the
    blood pool)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import ExplicitVRLittleEndian

    def describe(number, label, category, prop):
        return hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=category,
            segmented_property_type=prop,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )

    infarct = hd.sr.CodedConcept("55641003", "SCT", "Infarct")
    myocardium = hd.sr.CodedConcept("74281007", "SCT", "Myocardium")
    three = [
        describe(1, "Infarct", codes.SCT.MorphologicallyAbnormalStructure, infarct),
        describe(2, "LV myocardium", codes.SCT.AnatomicalStructure, myocardium),
        describe(3, "LV blood pool", codes.SCT.AnatomicalStructure, codes.SCT.Blood),
    ]
    masks = [seg_masks(k, sources[0].Rows, sources[0].Columns) for k in range(3)]
    if kind == "binary":
        pixels = np.stack(
            [np.stack([scar, myo, pool], axis=-1) for myo, scar, pool in masks]
        ).astype(np.uint8)
        segments = three
    elif kind == "fractional":
        pixels = np.stack(
            [
                np.stack(
                    [np.where(myo, 150, np.where(pool, 90, 0)), np.where(scar, 200, 0)], axis=-1
                )
                for myo, scar, pool in masks
            ]
        ).astype(np.float32) / 200
        segments = [
            describe(1, "Myocardium", codes.SCT.AnatomicalStructure, myocardium),
            describe(2, "Scar", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Scar),
        ]
    else:
        pixels = np.stack(
            [np.where(scar, 1, np.where(myo, 2, np.where(pool, 3, 0))) for myo, scar, pool in masks]
        ).astype(np.uint8)
        segments = three
    hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels,
        segmentation_type=kind.upper(),
        max_fractional_value=200,
        segment_descriptions=segments,
        series_instance_uid=f"{SEG_STUDY}.{series}",
        sop_instance_uid=f"{SEG_STUDY}.{series}.1",
        series_number=4,
        instance_number=1,
        manufacturer="fixture",
        manufacturer_model_name="make_good_corpus.py",
        software_versions="1",
        device_serial_number="1",
        transfer_syntax_uid=transfer_syntax or ExplicitVRLittleEndian,
    ).save_as(GOOD / file)


def segmentations():
    """seg_mr_0..2.dcm (8 x 6) and highdicom's segmentations of them (see write_seg):
    seg_binary.dcm, seg_binary_deflated.dcm (the same in the deflated transfer syntax, as 3D
    Slicer may save one), seg_fractional.dcm and seg_labelmap.dcm, uncompressed."""
    sources = seg_sources("seg_mr", 1, 8, 6)
    write_seg("seg_binary.dcm", sources, "binary", 2)
    from pydicom import dcmread
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    deflated = dcmread(GOOD / "seg_binary.dcm")
    deflated.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    deflated.save_as(GOOD / "seg_binary_deflated.dcm", enforce_file_format=True)
    write_seg("seg_fractional.dcm", sources, "fractional", 3)
    # Label Map Segmentation Storage: one value per pixel, the segment's number.
    write_seg("seg_labelmap.dcm", sources, "labelmap", 4)


def compressed_segmentations():
    """highdicom's segmentations with compressed frames, in the syntaxes it offers: RLE Lossless
    (FRACTIONAL and LABELMAP only) on seg_mr_0..2.dcm: seg_fractional_rle.dcm and
    seg_labelmap_rle.dcm; JPEG 2000 Lossless (any type; openjpeg wants 32 pixels a side) on
    seg_mr32_0..2.dcm (32 x 32, written here): seg_binary_j2k.dcm and seg_labelmap_j2k.dcm.
    Needs pylibjpeg-openjpeg."""
    from pydicom.uid import JPEG2000Lossless, RLELossless

    sources = seg_sources("seg_mr", 1, 8, 6)
    write_seg("seg_fractional_rle.dcm", sources, "fractional", 6, RLELossless)
    write_seg("seg_labelmap_rle.dcm", sources, "labelmap", 7, RLELossless)
    sources = seg_sources("seg_mr32", 5, 32, 32)
    write_seg("seg_binary_j2k.dcm", sources, "binary", 8, JPEG2000Lossless)
    write_seg("seg_labelmap_j2k.dcm", sources, "labelmap", 9, JPEG2000Lossless)


def jpeg_ls_segmentations():
    """highdicom's FRACTIONAL and LABELMAP segmentations of seg_mr_0..2.dcm with JPEG-LS Lossless
    frames (pyjpegls, CharLS): seg_fractional_jls.dcm and seg_labelmap_jls.dcm. Needs pyjpegls."""
    from pydicom.uid import JPEGLSLossless

    sources = seg_sources("seg_mr", 1, 8, 6)
    write_seg("seg_fractional_jls.dcm", sources, "fractional", 10, JPEGLSLossless)
    write_seg("seg_labelmap_jls.dcm", sources, "labelmap", 11, JPEGLSLossless)


def dcmjs_segmentations():
    """seg_dcmjs_rle.dcm and seg_dcmjs_binary.dcm: segmentations of seg_mr_0..2.dcm as OHIF 2
    exports one, written by dcmjs's Cornerstone adapter (tests/ohif/seg_check.mjs; needs node
    and `npm ci` in tests/ohif): segment 1 "Myocardium" (the myocardium less the scar) and 2
    "Scar", both coded only as tissue, so that only their labels say what they are; the RLE one
    (dcmjs's default) FRACTIONAL of maximum 255 with 1 stored where a segment is, the other
    BINARY."""
    import base64
    import json
    import shutil
    import subprocess
    import tempfile

    script = Path(__file__).resolve().parents[4] / "tests" / "ohif" / "seg_check.mjs"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        series = tmp / "series"
        series.mkdir()
        labels = {}
        for k in range(3):
            shutil.copy(GOOD / f"seg_mr_{k}.dcm", series)
            myo, scar, _ = seg_masks(k)
            label = np.where(scar, 2, np.where(myo, 1, 0)).astype(np.uint8)
            labels[f"{SEG_STUDY}.1.{k + 1}"] = base64.b64encode(label.tobytes()).decode()
        (tmp / "labels.json").write_text(json.dumps(labels))
        subprocess.run(
            ["node", str(script), "write", str(series), str(tmp / "labels.json"), str(tmp)],
            check=True,
        )
        shutil.copy(tmp / "rle.dcm", GOOD / "seg_dcmjs_rle.dcm")
        shutil.copy(tmp / "bitpacked.dcm", GOOD / "seg_dcmjs_binary.dcm")


if __name__ == "__main__":
    import sys

    WRITERS = {
        "enhanced": enhanced,
        "enhanced_psir": enhanced_psir,
        "enhanced_cine": enhanced_cine,
        "compressed": compressed,
        "jpeg_extended": jpeg_extended,
        "jpeg_extended_dcmtk": jpeg_extended_dcmtk,
        "jpeg_ls": jpeg_ls,
        "misdeclared": misdeclared,
        "archives": archives,
        "nested_archives": nested_archives,
        "tar_archives": tar_archives,
        "bare": bare,
        "un_sequences": un_sequences,
        "un_elements": un_elements,
        "un_nested": un_nested,
        "colours": colours,
        "rgb_jpeg": rgb_jpeg,
        "qform": qform,
        "nifti2": nifti2,
        "segmentations": segmentations,
        "compressed_segmentations": compressed_segmentations,
        "jpeg_ls_segmentations": jpeg_ls_segmentations,
        "dcmjs_segmentations": dcmjs_segmentations,
    }
    for name in sys.argv[1:] or list(WRITERS):
        WRITERS[name]()
