//! Namespaces: cloning into new ones, joining existing ones (chapters 02-03).
