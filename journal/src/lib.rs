//! Memory-mapped, segmented, checksummed append log (work in progress).
