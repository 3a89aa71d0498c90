"""Writes good/jpeg_lossless_sv1.dcm and good/jpeg2000_lossless.dcm: one 16 x 12 MR slice of
12-bit values ((21 i) mod 4096 for pixel i, row by row), compressed by GDCM, an encoder
independent of ours, into the two lossless syntaxes PACS exports use most. JPEG Lossless
(process 14, selection value 1) decodes everywhere; JPEG 2000 natively only (see the crate's
Cargo.toml). `tests/dicom_variants.rs` checks every value comes back exactly.

    python3 -m pip install pydicom numpy python-gdcm && python3 make_compressed.py
"""

from pathlib import Path

import gdcm
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

MR = "1.2.840.10008.5.1.4.1.1.4"
HERE = Path(__file__).parent

ds = Dataset()
ds.file_meta = FileMetaDataset()
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.file_meta.MediaStorageSOPClassUID = MR
ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1234.21.1"
ds.SOPClassUID = MR
ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1234.21.1"
ds.Modality = "MR"
ds.Rows, ds.Columns = 16, 12
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
ds.PixelSpacing = [0.9, 1.1]
ds.SliceThickness = 6
ds.PixelData = ((np.arange(16 * 12) * 21) % 4096).astype("<u2").tobytes()
raw = HERE / "raw.dcm"
ds.save_as(raw, enforce_file_format=True)

for name, syntax in [
    ("jpeg_lossless_sv1.dcm", gdcm.TransferSyntax.JPEGLosslessProcess14_1),
    ("jpeg2000_lossless.dcm", gdcm.TransferSyntax.JPEG2000Lossless),
]:
    reader = gdcm.ImageReader()
    reader.SetFileName(str(raw))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(HERE / "good" / name))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
raw.unlink()
