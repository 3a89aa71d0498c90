//! Everything between a user's file and a tensor, and back: decoding DICOM, NIfTI and PNG/JPEG
//! into one [`Slice`]/[`Stack`] type, preprocessing to the model's input and its exact inverse,
//! postprocessing, corrections by hand, metrics, where in the wall scar lies, whether the
//! outlines look like a short-axis left ventricle, the RV insertion suggested from the image, the
//! classic FWHM and n-SD scar methods, the synthetic LGE phantom (with writers for the formats
//! users upload), DICOM segmentations (written and read), DICOM measurement reports, and how a
//! slice looks on screen (window and overlays). The API takes bytes, never paths, so the web app
//! and the native tools share it; the crate builds for wasm32.
pub mod archive;
pub mod classic;
mod codec;
pub mod decode;
pub mod depth;
pub mod edit;
pub mod encode;
pub mod error;
mod jpeg12;
mod jpeg2000;
mod jpeg_ls;
mod jpeg_rgb;
pub mod landmark;
pub mod metrics;
pub mod noise;
pub mod phantom;
pub mod postprocess;
pub mod preprocess;
pub mod quality;
pub mod roi;
pub mod seg;
pub mod slice;
pub mod sr;
pub mod view;

pub use error::{ErrorKind, ImagingError};
pub use slice::{Limits, Slice, Stack};
