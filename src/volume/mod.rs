//! Volumes and the init layer (chapter 07). Being written.
