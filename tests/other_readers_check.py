"""ScarSeg's decoders against other readers, on those readers' own test files.

pydicom ships some eighty DICOM files, and its pydicom-data package some seventy more, from many
writers (GDCM, DCMTK, dcm4che, scanners, TCIA archives, its own fault reproducers) in most
transfer syntaxes and pixel layouts; nibabel ships NIfTI images from FSL, SPM and its own tests
(big-endian, scaled, 4-D, oblique) and DICOM files from Siemens and Philips scanners. Each goes
through ScarSeg's decoder (the `decode_dump` example: what `scarseg predict` and the page read)
and through pydicom or nibabel:

- every file ScarSeg reads must be read by the other reader too and give its values: for DICOM the modality LUT applied
  (rescale slope and intercept, an enhanced image's from its functional groups), padding pixels
  set to the frame's darkest image value, a MONOCHROME1 frame mirrored within its range and colour taken to its BT.601 luma (Y itself for YCbCr), as
  ScarSeg does; for NIfTI the scaled voxels, plane by plane (i along a row, j down the columns).
  Exactly where the file is lossless, within two grey levels where it is lossy (two JPEG decoders
  may round the inverse DCT differently) or its colour converted;
- the files ScarSeg refuses must be exactly those listed in REFUSED, each with its reason
  (things it does not read on purpose, and broken files), and the message must name the file;
  those whose values differ from the other reader's on purpose are listed in DIFFERENT, with the
  warning ScarSeg gives them, and those read by a rule of ScarSeg's own that the reference here
  applies too (NaN voxels as the volume's lowest value) in WARNED, with their warning;
- no file may crash the decoder (every file gives a result or a one-line error).

    python tests/other_readers_check.py DECODE_DUMP_BINARY

Runs in the venv `scripts/test.sh` makes from tests/requirements-dicom.txt (pydicom with
pydicom-data; pylibjpeg with libjpeg for JPEG, openjpeg for JPEG 2000, pyjpegls for JPEG-LS;
nibabel).
"""

import atexit
import gzip
import json
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import nibabel
import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut

# File -> what ScarSeg's message must contain. Read on purpose: not these.
REFUSED = {
    # Not DICOM as ScarSeg tells it: a data set without a Part 10 header that starts with a
    # stray byte (pydicom, forced, reads no SOP Class from it either).
    "no_meta.dcm": "expected DICOM (a Part 10 file",
    # Objects without an image; the first three bare data sets (no Part 10 header), read in
    # explicit VR big and little endian and implicit VR.
    "ExplVR_BigEndNoMeta.dcm": "RT Ion Plan Storage object without Pixel Data",
    "ExplVR_LitEndNoMeta.dcm": "RT Ion Plan Storage object without Pixel Data",
    "rtstruct.dcm": "RT Structure Set Storage object without Pixel Data",
    "empty_charset_LEI.dcm": "without Pixel Data",
    "no_meta_group_length.dcm": "without Pixel Data",
    "priv_SQ.dcm": "without Pixel Data",
    "reportsi.dcm": "without Pixel Data",
    "reportsi_with_empty_number_tags.dcm": "without Pixel Data",
    "rtplan.dcm": "without Pixel Data",
    "test-SR.dcm": "without Pixel Data",
    "UN_sequence.dcm": "without Pixel Data",
    "waveform_ecg.dcm": "without Pixel Data",
    "nested_priv_SQ.dcm": "no Rows (0028,0010)",
    # Segmentations are labels for a series, not images to segment.
    "liver_1frame.dcm": "a DICOM Segmentation",
    "liver_expb_1frame.dcm": "a DICOM Segmentation",
    # Out of what an MR image holds: 32-bit values (RT dose), colour-table indices.
    "rtdose.dcm": "Bits Stored (0028,0101) is 32",
    "rtdose_1frame.dcm": "Bits Stored (0028,0101) is 32",
    "rtdose_expb.dcm": "Bits Stored (0028,0101) is 32",
    "rtdose_expb_1frame.dcm": "Bits Stored (0028,0101) is 32",
    "rtdose_rle.dcm": "BitsAllocated other than 8 or 16",
    "rtdose_rle_1frame.dcm": "BitsAllocated other than 8 or 16",
    "SC_rgb_rle_32bit.dcm": "BitsAllocated other than 8 or 16",
    "SC_rgb_rle_32bit_2frame.dcm": "BitsAllocated other than 8 or 16",
    "examples_palette.dcm": "PALETTE COLOR",
    # Colour JPEG-LS: only grey JPEG-LS is read.
    "SC_rgb_jls_lossy_line.dcm": "only grey (1) JPEG-LS",
    "SC_rgb_jls_lossy_sample.dcm": "only grey (1) JPEG-LS",
    # Broken on purpose.
    "badVR.dcm": "NumberOfFrames",
    "JPEG2000-embedded-sequence-delimiter.dcm": "a JPEG 2000 image of 3722445056 x 1024",
    "meta_missing_tsyntax.dcm": "is truncated",
    "MR_truncated.dcm": "is truncated",
    "rtplan_truncated.dcm": "is truncated",
    # pydicom-data's.
    "OT-PAL-8-face.dcm": "PALETTE COLOR",  # a bare data set in implicit VR
    "liver.dcm": "a DICOM Segmentation",
    "liver_expb.dcm": "a DICOM Segmentation",
    "OBXXXX1A.dcm": "PALETTE COLOR",
    "OBXXXX1A_2frame.dcm": "PALETTE COLOR",
    "OBXXXX1A_expb.dcm": "PALETTE COLOR",
    "OBXXXX1A_expb_2frame.dcm": "PALETTE COLOR",
    "OBXXXX1A_rle.dcm": "PALETTE COLOR",
    "OBXXXX1A_rle_2frame.dcm": "PALETTE COLOR",
    "gdcm-US-ALOKA-16.dcm": "PALETTE COLOR",
    "gdcm-US-ALOKA-16_big.dcm": "PALETTE COLOR",
    "SC_rgb_32bit.dcm": "Bits Stored (0028,0101) is 32",
    "SC_rgb_32bit_2frame.dcm": "Bits Stored (0028,0101) is 32",
    "SC_rgb_expb_32bit.dcm": "Bits Stored (0028,0101) is 32",
    "SC_rgb_expb_32bit_2frame.dcm": "Bits Stored (0028,0101) is 32",
    # nibabel's CIFTI connectivity matrix (in NIfTI-2): not an image.
    "row_major.dconn.nii": "a CIFTI file (intent code 3001)",
    # nibabel's scanner DICOM files (Siemens, Philips), whose headers its tests read: a Siemens
    # header kept without its pixel data, and four images whose pixels were zeroed to keep them
    # small (pydicom reads only zeros from them too), among them a Philips enhanced MR image of
    # 176 frames.
    "csa_slice_norm.dcm": "MR Image Storage object without Pixel Data",
    "decimal_rescale.dcm": "every pixel has the value -4096: the image is blank",
    "philips_mprage.dcm": "every pixel has the value 0: the image is blank",
    "siemens_dwi_0.dcm": "every pixel has the value 0: the image is blank",
    "siemens_dwi_1000.dcm": "every pixel has the value 0: the image is blank",
}
# File -> the file whose values the other reader gives for it: pydicom-data's copy of a file
# without its last 8 bytes (the pixel data's sequence delimitation item), which pydicom then
# reads without pixel data and ScarSeg reads whole, as the frames are all there; and a file
# the other reader refuses for a fault that changes no value, beside its mended copy.
SAME_AS = {
    "emri_small_jpeg_2k_lossless_too_short.dcm": "emri_small_jpeg_2k_lossless.dcm",
    # A GE image whose sequential scan says it ends at coefficient 0 (Se 0, not 63), which
    # libjpeg (pylibjpeg's) refuses and IJG's libjpeg (DCMTK, GDCM) and ScarSeg read; pydicom
    # ships the same image with that field mended.
    "JPEG-lossy.dcm": "JPGExtended.dcm",
}
# File -> the warning ScarSeg gives where its values differ from pydicom's on purpose.
DIFFERENT = {
    # An X-ray-style lookup table, which MR images do not have.
    "mlut_18.dcm": "Modality LUT Sequence (0028,3000) is not applied",
}
# File -> the warning ScarSeg must give where it reads values the other reader gives otherwise
# by a rule of its own, which the reference applies too: NaN voxels (outside a resampled
# volume's field of view) are read as the volume's lowest value, and DICOM padding (a CT's
# -2000 outside its circle) as the frame's darkest image value.
WARNED = {
    "resampled_anat_moved.nii": "153 pixels are NaN",
    "693_J2KR.dcm": "pixels of padding round the image (stored value -2000",
    "693_UNCR.dcm": "pixels of padding round the image (stored value -2000",
    # The lossy copies: compression moved most padding pixels off -2000.
    "693_J2KI.dcm": "pixels of padding round the image (stored value -2000",
    "693_UNCI.dcm": "pixels of padding round the image (stored value -2000",
}
LOSSLESS = {
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.5",
}


def dicom_reference(ds):
    """pydicom's frames as ScarSeg reads them: (frames, rows, cols) floats."""
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    rows, cols, samples = ds.Rows, ds.Columns, ds.SamplesPerPixel
    if samples == 3:
        # pydicom converts YCbCr to RGB; its luma is then Y again, to rounding.
        rgb = arr.reshape(frames, rows, cols, 3).astype(np.float64)
        return rgb @ np.array([0.299, 0.587, 0.114])
    grey = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64).reshape(frames, rows, cols)
    # An enhanced image's rescale is in its functional groups (PS3.3 C.7.6.16.2.9), which
    # apply_modality_lut does not read: each frame's own, else the shared one.
    def rescale(groups):
        group = groups.get("PixelValueTransformationSequence") if groups else None
        return (float(group[0].RescaleSlope), float(group[0].RescaleIntercept)) if group else None

    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    for k in range(frames):
        found = (rescale(per_frame[k]) if per_frame else None) or (
            rescale(shared[0]) if shared else None
        )
        if found:
            grey[k] = arr.reshape(frames, rows, cols)[k] * found[0] + found[1]
    # Padding (PS3.3 C.7.5.1.1.2): stored values from the Pixel Padding Value to its Range
    # Limit are no image; each frame's are set to its darkest image value (the highest in
    # MONOCHROME1, before the mirror), as ScarSeg reads them.
    if "PixelPaddingValue" in ds:
        value = int(ds.PixelPaddingValue)
        lo, hi = sorted((value, int(ds.get("PixelPaddingRangeLimit", value))))
        stored = arr.reshape(frames, rows, cols)
        darkest = np.max if ds.PhotometricInterpretation == "MONOCHROME1" else np.min
        for k in range(frames):
            pad = (stored[k] >= lo) & (stored[k] <= hi)
            if pad.any() and not pad.all():
                grey[k][pad] = darkest(grey[k][~pad])
    if ds.PhotometricInterpretation == "MONOCHROME1":
        lo = grey.min(axis=(1, 2), keepdims=True)
        hi = grey.max(axis=(1, 2), keepdims=True)
        grey = lo + hi - grey
    return grey


def nifti_reference(path):
    """nibabel's planes as ScarSeg reads them: (planes, rows, cols) floats, every plane of
    every volume in file order, i along a row and j down the columns."""
    data = np.asarray(nibabel.load(path).get_fdata(), dtype=np.float64)
    if np.isnan(data).any():
        data = np.where(np.isnan(data), np.nanmin(data), data)
    if data.ndim == 2:
        data = data[:, :, None]
    x, y = data.shape[:2]
    return data.reshape(x * y, -1, order="F").T.reshape(-1, y, x)


def reference(path):
    """The other reader's planes, and the largest difference allowed from them."""
    if path.suffix == ".dcm":
        ds = pydicom.dcmread(path)
        ref = dicom_reference(ds)
        lossless = str(ds.file_meta.TransferSyntaxUID) in LOSSLESS and ds.SamplesPerPixel == 1
        slope = abs(float(ds.get("RescaleSlope", 1) or 1))
    else:
        ref, lossless, slope = nifti_reference(path), True, 1.0
    tolerance = 1e-3 * max(1.0, float(np.abs(ref).max())) if lossless else 2.0 * slope
    return ref, tolerance


def main():
    dump = sys.argv[1]
    import data_store  # pydicom-data

    dicom = [
        Path(get_testdata_file("MR_small.dcm")).parent,
        Path(data_store.__file__).parent / "data",
    ]
    nifti = Path(nibabel.__file__).parent / "tests" / "data"
    files = sorted(f for folder in dicom for f in folder.glob("*.dcm"))
    assert len(files) > 140, f"only {len(files)} DICOM test files in {dicom}"
    # nibabel's DICOM files from Siemens and Philips scanners, some gzipped.
    nicom = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"
    unzipped = Path(tempfile.mkdtemp(prefix="nicom-"))
    atexit.register(shutil.rmtree, unzipped, True)
    for packed in nicom.glob("*.dcm.gz"):
        (unzipped / packed.stem).write_bytes(gzip.decompress(packed.read_bytes()))
    scanners = sorted([*nicom.glob("*.dcm"), *unzipped.glob("*.dcm")])
    assert len(scanners) >= 8, f"only {len(scanners)} DICOM test files in {nicom}"
    files += scanners
    images = sorted([*nifti.glob("*.nii"), *nifti.glob("*.nii.gz")])
    assert len(images) >= 8, f"only {len(images)} NIfTI test files in {nifti}"
    files += images
    assert len({f.name for f in files}) == len(files), "two test files of one name"
    out = subprocess.run(
        [dump, *map(str, files)], capture_output=True, text=True, check=True
    ).stdout
    results = {Path(r["file"]).name: r for r in map(json.loads, out.splitlines())}
    assert set(results) == {f.name for f in files}, "a file gave no result"

    failures, compared = [], 0
    for path in files:
        name, result = path.name, results[path.name]
        if "error" in result:
            expected = REFUSED.get(name)
            if expected is None:
                failures.append(f"{name}: refused: {result['error']}")
            elif expected not in result["error"] or not result["error"].startswith(str(path)):
                failures.append(f"{name}: expected a message with {expected!r}: {result['error']}")
            continue
        if name in REFUSED:
            failures.append(f"{name}: read, but listed as refused ({REFUSED[name]})")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref, tolerance = reference(path.with_name(SAME_AS.get(name, name)))
        except Exception as e:  # noqa: BLE001: the other reader lacks a plugin or refuses it
            failures.append(f"{name}: read by ScarSeg, not by the other reader: "
                            f"{type(e).__name__}: {str(e).splitlines()[0][:80]}")
            continue
        slices = [s for stack in result["stacks"] for s in stack["slices"]]
        if len(slices) != ref.shape[0]:
            failures.append(f"{name}: {len(slices)} slices, the other reader {ref.shape[0]}")
            continue
        worst = 0.0
        for s in slices:
            frame = re.search(r" \[(\d+)\]$", s["source"])
            k = int(frame.group(1)) if frame else 0
            if (s["rows"], s["cols"]) != ref.shape[1:]:
                failures.append(f"{name} [{k}]: {s['rows']} x {s['cols']}, the other {ref.shape[1:]}")
                break
            ours = np.array(s["pixels"], dtype=np.float64).reshape(ref.shape[1:])
            worst = max(worst, float(np.abs(ours - ref[k]).max()))
        else:
            compared += 1
            if name in DIFFERENT:
                warned = any(DIFFERENT[name] in w for st in result["stacks"] for w in st["warnings"])
                print(f"{'ok' if warned else 'UNWARNED':8} {name}: differs by up to {worst:g}, "
                      f"on purpose ({DIFFERENT[name]})")
                if not warned:
                    failures.append(f"{name}: no warning {DIFFERENT[name]!r}")
                continue
            if name in WARNED and not any(
                WARNED[name] in w for st in result["stacks"] for w in st["warnings"]
            ):
                failures.append(f"{name}: no warning {WARNED[name]!r}")
            verdict = "ok" if worst <= tolerance else "DIFFERS"
            print(f"{verdict:8} {name}: {len(slices)} slice(s), largest difference {worst:g}"
                  f" (allowed {tolerance:g})")
            if worst > tolerance:
                failures.append(f"{name}: values differ from the other reader's by up to {worst:g}")
    print(f"{compared} files compared with pydicom or nibabel, "
          f"{sum('error' in r for r in results.values())} refused as listed")
    if failures:
        sys.exit("the other readers' test files:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    main()
