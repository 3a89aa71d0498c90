//! Typed errors: every failure names the file and the reason.

use thiserror::Error;

/// A decoding or processing failure, with the name of the file it concerns.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("{file}: {kind}")]
pub struct ImagingError {
    /// The file's name as the user gave it.
    pub file: String,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl ImagingError {
    /// An error about `file`.
    pub fn new(file: impl Into<String>, kind: ErrorKind) -> Self {
        Self {
            file: file.into(),
            kind,
        }
    }
}

/// Why a file could not be used.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum ErrorKind {
    /// Zero bytes.
    #[error("the file is empty")]
    Empty,
    /// More bytes than the limit allows (also for what a compressed file expands to).
    #[error("{bytes} bytes is over the limit of {limit} bytes ({} MiB)", limit >> 20)]
    TooLarge {
        /// Bytes in the file (or decompressed so far).
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// An archive, or an entry of one, that cannot be read: the message names the kind ("ZIP
    /// archive: ...", "tar archive: ...").
    #[error("{0}")]
    Archive(String),
    /// The first bytes match none of the supported formats.
    #[error(
        "not a supported image: expected DICOM (a Part 10 file, with \"DICM\", or a bare data \
         set), NIfTI (.nii or .nii.gz), PNG or JPEG"
    )]
    UnknownFormat,
    /// The file ends before the data its header declares.
    #[error("the file is truncated: {0}")]
    Truncated(String),
    /// A declared image size is zero or over the limit.
    #[error("image of {rows} x {cols} pixels is outside the allowed 1 to {limit} pixels per side")]
    BadDimensions {
        /// Declared rows.
        rows: u64,
        /// Declared columns.
        cols: u64,
        /// Largest side allowed.
        limit: u64,
    },
    /// More slices (frames, z-planes) than the limit.
    #[error("{count} slices is over the limit of {limit}")]
    TooManySlices {
        /// Declared slices.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// Pixels that are NaN or infinite.
    #[error("{count} pixels are NaN or infinite")]
    NonFinitePixels {
        /// How many.
        count: usize,
    },
    /// Every pixel has the same value: there is nothing to segment.
    #[error("every pixel has the value {value}: the image is blank")]
    ConstantImage {
        /// The value.
        value: f32,
    },
    /// A DICOM transfer syntax this build cannot decode.
    #[error("DICOM transfer syntax {uid} ({name}) is not supported here{hint}")]
    UnsupportedTransferSyntax {
        /// Transfer syntax UID.
        uid: String,
        /// Its name, where known.
        name: String,
        /// What to do instead.
        hint: String,
    },
    /// A DICOM object that holds no image (a DICOMDIR, a structured report, a presentation
    /// state, a segmentation's masks): a folder's series leaves it out with a warning.
    #[error("not an image: {0}")]
    NotAnImage(String),
    /// Another format than NIfTI inside gzip (a .dcm.gz, say): only NIfTI is read gzipped.
    #[error(
        "a {0} file compressed with gzip: decompress it first (gunzip); only NIfTI is read gzipped"
    )]
    Gzipped(&'static str),
    /// A DICOM file with a layout we do not read.
    #[error("DICOM: {0}")]
    Dicom(String),
    /// A NIfTI file we cannot read.
    #[error("NIfTI: {0}")]
    Nifti(String),
    /// A PNG or JPEG we cannot read.
    #[error("image: {0}")]
    Raster(String),
    /// A file or folder of several stacks where one is needed (training, pairing labels).
    #[error(
        "holds {count} stacks ({labels}) where one is needed here; `scarseg predict` and the \
         page read each on its own"
    )]
    SeveralStacks {
        /// How many.
        count: usize,
        /// Their labels, joined by "; ".
        labels: String,
    },
    /// Files that do not form one series.
    #[error("series: {0}")]
    Series(String),
}
