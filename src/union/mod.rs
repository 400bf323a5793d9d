//! Overlay union mounts and the copy driver (chapter 05). Being written.
