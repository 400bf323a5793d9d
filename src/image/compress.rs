//! Layer compression. A layer blob is a tar, plain or compressed with gzip
//! or zstd (the three layer media types of the OCI spec). What a blob is
//! is read from its first bytes, not trusted from a file name; the media
//! type a manifest gives must agree with them.

use std::io::{self, BufRead, Read};

use anyhow::bail;
use oci_spec::image::MediaType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    /// Look at the first bytes of a buffered stream (without consuming them).
    pub fn sniff(r: &mut impl BufRead) -> io::Result<Compression> {
        let head = r.fill_buf()?;
        Ok(if head.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        })
    }

    /// The OCI layer media type for this compression.
    pub fn layer_media_type(self) -> MediaType {
        match self {
            Compression::None => MediaType::ImageLayer,
            Compression::Gzip => MediaType::ImageLayerGzip,
            Compression::Zstd => MediaType::ImageLayerZstd,
        }
    }

    /// The compression a manifest's layer media type announces, Docker's
    /// spellings included. Anything else is not a layer we can unpack.
    pub fn of_media_type(mt: &MediaType) -> anyhow::Result<Compression> {
        Ok(match mt.to_string().as_str() {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Compression::None,
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Compression::Gzip,
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Compression::Zstd,
            other => bail!("unknown layer media type {other:?}"),
        })
    }

    /// A reader of the uncompressed tar. gzip may come in several members
    /// (pigz, concatenated streams): all are read.
    pub fn decoder<'a, R: BufRead + 'a>(self, r: R) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(r),
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sniffs_and_round_trips_each_kind() {
        let data = b"plain tar bytes".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&data[..], 1).unwrap();
        for (bytes, want) in [
            (data.clone(), Compression::None),
            (gz, Compression::Gzip),
            (zs, Compression::Zstd),
        ] {
            let mut r = io::BufReader::new(&bytes[..]);
            let c = Compression::sniff(&mut r).unwrap();
            assert_eq!(c, want);
            let mut out = Vec::new();
            c.decoder(r).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn media_types_map_both_ways() {
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            assert_eq!(
                Compression::of_media_type(&c.layer_media_type()).unwrap(),
                c
            );
        }
        let docker = MediaType::from("application/vnd.docker.image.rootfs.diff.tar.gzip");
        assert_eq!(
            Compression::of_media_type(&docker).unwrap(),
            Compression::Gzip
        );
        let err = Compression::of_media_type(&MediaType::from("text/plain")).unwrap_err();
        assert!(err.to_string().contains("text/plain"));
    }
}
