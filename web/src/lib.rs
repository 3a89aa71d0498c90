//! The ScarSeg web app's shared part: the one message protocol between the page and the worker
//! that runs the network, and the page-side helpers that need no browser (window/level, overlay
//! rendering, report tables, corrections by hand and their undo, the ledger of what the worker
//! was asked, to start a new one where it died, what a panic says), so they are unit-tested natively.

pub mod correct;
pub mod fault;
pub mod ledger;
pub mod protocol;
pub mod render;
pub mod report;
