//! Layer tars: whiteouts, export and safe apply (chapter 06). Being written.
