"""Writes good/enhanced_mr.dcm with pydicom, a writer independent of ours: an enhanced
(multi-frame) MR image whose geometry and rescale live only in functional groups, with frames
stored out of spatial order. `tests/dicom_variants.rs` checks what our decoder reads from it, and
`scripts/fuzz.sh` seeds the DICOM fuzzers with it.

    python3 -m pip install pydicom numpy && python3 make_enhanced_mr.py
"""

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"

ds = Dataset()
ds.file_meta = FileMetaDataset()
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.file_meta.MediaStorageSOPClassUID = ENHANCED_MR
ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1234.20.1"
ds.SOPClassUID = ENHANCED_MR
ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1234.20.1"
ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1234.20"
ds.Modality = "MR"
ds.Rows, ds.Columns, ds.NumberOfFrames = 8, 6, 3
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0

measures = Dataset()
measures.PixelSpacing = [1.25, 1.5]  # between rows, between columns (mm)
measures.SliceThickness = 8
orientation = Dataset()
orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
rescale = Dataset()
rescale.RescaleSlope, rescale.RescaleIntercept, rescale.RescaleType = 2, -5, "US"
shared = Dataset()
shared.PixelMeasuresSequence = Sequence([measures])
shared.PlaneOrientationSequence = Sequence([orientation])
shared.PixelValueTransformationSequence = Sequence([rescale])
ds.SharedFunctionalGroupsSequence = Sequence([shared])

frames = []
for z in [18.5, 28, 10]:  # acquisition order, not spatial order
    position = Dataset()
    position.ImagePositionPatient = [-5, -6, z]
    frame = Dataset()
    frame.PlanePositionSequence = Sequence([position])
    frames.append(frame)
ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
# Frame k holds the stored values 48k .. 48k + 47.
ds.PixelData = np.arange(3 * 8 * 6, dtype="<u2").tobytes()

ds.save_as(Path(__file__).parent / "good" / "enhanced_mr.dcm", enforce_file_format=True)
