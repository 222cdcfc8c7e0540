//! Encryption at rest (D83): the objects of sensitive datasets are stored
//! sealed in the age format (<https://age-encryption.org/v1>), to the
//! recipients the configuration lists (`[encryption] recipients`: X25519
//! `age1…` keys or SSH public keys). A sealed object is exactly what
//! `age -r RECIPIENT FILE` would write, so `age -d -i KEY` opens it outside
//! folio. Its id stays the BLAKE3 of its plaintext (equal contents share
//! an id, sealed or not: docs/DECISIONS.md D83 says what that reveals).
//!
//! Private identities never enter the repository: the caller (the CLI,
//! from `FOLIO_IDENTITY`) hands them to [`crate::store::Store`] for the
//! reads that need plaintext.

use std::io::{self, Read, Write};

use crate::error::ErrorKind;

/// Why sealing or opening fails.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    /// A configured recipient that is not an age or SSH public key.
    #[error(
        "recipient {0:?} is not an age public key (age1…) or an SSH public key (ssh-ed25519 …, ssh-rsa …): fix [encryption] recipients in .folio/config.toml"
    )]
    BadRecipient(String),
    /// An identity file folio cannot use.
    #[error("{source_name}: {detail}")]
    BadIdentity {
        /// Where it was read from.
        source_name: String,
        /// What is wrong.
        detail: String,
    },
    /// Sealed to none of the identities given.
    #[error(
        "object {0} is encrypted to recipients none of the identities given matches: give FOLIO_IDENTITY the identity file of a recipient listed in [encryption] recipients"
    )]
    NotForYou(String),
    /// No identity given for a sealed object.
    #[error(
        "object {0} is encrypted: set FOLIO_IDENTITY to the file of an age identity (or unencrypted SSH key) whose recipient [encryption] lists, and say why with --purpose"
    )]
    Locked(String),
    /// An identity was given, and reading is refused: no purpose, or no
    /// grant (D85). Says why.
    #[error("object {0} is encrypted, and reading it is refused: {1}")]
    Refused(String, String),
    /// Sealed bytes that do not open (damaged or forged).
    #[error("object {id} does not decrypt: {detail}")]
    Damaged {
        /// The object (short id).
        id: String,
        /// What age reported.
        detail: String,
    },
    /// Writing or reading the sealed stream failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// folio was built without the `encryption` feature.
    #[error(
        "this folio was built without encryption (cargo feature `encryption`): sealed objects cannot be written or read"
    )]
    Unsupported,
}

impl CryptError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CryptError::Damaged { .. } => ErrorKind::Damaged,
            CryptError::Io(e) => ErrorKind::of_io(e),
            _ => ErrorKind::Invalid,
        }
    }
}

/// The public keys sealed objects are written to.
pub struct Seal {
    #[cfg(feature = "encryption")]
    recipients: Vec<Box<dyn age::Recipient + Send + Sync>>,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seal").finish_non_exhaustive()
    }
}

impl Seal {
    /// Parses recipients: `age1…` X25519 keys, or SSH public keys
    /// (`ssh-ed25519 AAAA… [comment]`, `ssh-rsa …`).
    pub fn parse(recipients: &[String]) -> Result<Seal, CryptError> {
        #[cfg(feature = "encryption")]
        {
            use std::str::FromStr;
            let mut out: Vec<Box<dyn age::Recipient + Send + Sync>> = Vec::new();
            for r in recipients {
                let t = r.trim();
                if let Ok(k) = age::x25519::Recipient::from_str(t) {
                    out.push(Box::new(k));
                } else if let Ok(k) = age::ssh::Recipient::from_str(t) {
                    out.push(Box::new(k));
                } else {
                    return Err(CryptError::BadRecipient(r.clone()));
                }
            }
            if out.is_empty() {
                return Err(CryptError::BadRecipient(String::new()));
            }
            Ok(Seal { recipients: out })
        }
        #[cfg(not(feature = "encryption"))]
        {
            let _ = recipients;
            Err(CryptError::Unsupported)
        }
    }

    /// Seals `w`: what is written to the returned writer reaches `w`
    /// encrypted; call [`Sealer::finish`] to complete it.
    pub fn sealer<W: Write>(&self, w: W) -> Result<Sealer<W>, CryptError> {
        #[cfg(feature = "encryption")]
        {
            let enc = age::Encryptor::with_recipients(
                self.recipients
                    .iter()
                    .map(|r| r.as_ref() as &dyn age::Recipient),
            )
            .map_err(|e| CryptError::BadRecipient(e.to_string()))?;
            Ok(Sealer(enc.wrap_output(w)?))
        }
        #[cfg(not(feature = "encryption"))]
        {
            let _ = w;
            Err(CryptError::Unsupported)
        }
    }

    /// Seals `plain` whole.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, CryptError> {
        let mut out = Vec::with_capacity(plain.len() + 512);
        let mut s = self.sealer(&mut out)?;
        s.write_all(plain)?;
        s.finish()?;
        Ok(out)
    }
}

/// Checks what can be checked of a sealed stream without an identity: its
/// age header parses (the payload's authenticity needs the identity).
pub fn check_header<R: Read>(r: R, id: &str) -> Result<(), CryptError> {
    #[cfg(feature = "encryption")]
    {
        age::Decryptor::new(r).map_err(|e| CryptError::Damaged {
            id: id.to_string(),
            detail: e.to_string(),
        })?;
        Ok(())
    }
    #[cfg(not(feature = "encryption"))]
    {
        let _ = (r, id);
        Err(CryptError::Unsupported)
    }
}

/// A writer that seals what it is given ([`Seal::sealer`]).
#[cfg(feature = "encryption")]
pub struct Sealer<W: Write>(age::stream::StreamWriter<W>);
/// A writer that seals what it is given ([`Seal::sealer`]).
#[cfg(not(feature = "encryption"))]
pub struct Sealer<W: Write>(W);

impl<W: Write> Write for Sealer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> Sealer<W> {
    /// Writes the last chunk and its tag; returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        #[cfg(feature = "encryption")]
        {
            self.0.finish()
        }
        #[cfg(not(feature = "encryption"))]
        {
            Ok(self.0)
        }
    }
}

/// The private identities that open sealed objects.
pub struct Keys {
    #[cfg(feature = "encryption")]
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(…)")
    }
}

impl Keys {
    /// Parses an identity file: age identities (`AGE-SECRET-KEY-1…` lines,
    /// as `age-keygen` writes them) or an unencrypted OpenSSH private key.
    /// `source_name` names the file in messages.
    pub fn parse(text: &[u8], source_name: &str) -> Result<Keys, CryptError> {
        let bad = |detail: String| CryptError::BadIdentity {
            source_name: source_name.to_string(),
            detail,
        };
        #[cfg(feature = "encryption")]
        {
            if text.starts_with(b"-----BEGIN") {
                use age::ssh::Identity as Ssh;
                let id = Ssh::from_buffer(text, Some(source_name.to_string()))
                    .map_err(|e| bad(format!("not an SSH private key ({e})")))?;
                return match id {
                    Ssh::Unencrypted(_) => Ok(Keys {
                        identities: vec![Box::new(id)],
                    }),
                    Ssh::Encrypted(_) => Err(bad(
                        "a passphrase-protected SSH key: folio cannot ask for its passphrase; use an age identity (age-keygen) or an unencrypted key".into(),
                    )),
                    Ssh::Unsupported(k) => Err(bad(format!("an unsupported SSH key ({k:?})"))),
                };
            }
            let file = age::IdentityFile::from_buffer(text)
                .map_err(|e| bad(format!("not an age identity file ({e})")))?;
            let identities = file
                .into_identities()
                .map_err(|e| bad(format!("not an age identity file ({e})")))?;
            if identities.is_empty() {
                return Err(bad(
                    "holds no identity: write one with age-keygen -o FILE".into()
                ));
            }
            Ok(Keys { identities })
        }
        #[cfg(not(feature = "encryption"))]
        {
            let _ = (text, bad);
            Err(CryptError::Unsupported)
        }
    }

    /// A reader of the plaintext of the sealed stream `r` (of object `id`,
    /// for messages). The plaintext is authenticated chunk by chunk: a
    /// damaged chunk is a read error.
    pub fn opener<'a, R: Read + 'a>(
        &self,
        r: R,
        id: &str,
    ) -> Result<Box<dyn Read + 'a>, CryptError> {
        #[cfg(feature = "encryption")]
        {
            let damaged = |e: &dyn std::fmt::Display| CryptError::Damaged {
                id: id.to_string(),
                detail: e.to_string(),
            };
            let dec = age::Decryptor::new(r).map_err(|e| damaged(&e))?;
            match dec.decrypt(
                self.identities
                    .iter()
                    .map(|i| i.as_ref() as &dyn age::Identity),
            ) {
                Ok(rd) => Ok(Box::new(rd)),
                Err(age::DecryptError::NoMatchingKeys) => Err(CryptError::NotForYou(id.into())),
                Err(e) => Err(damaged(&e)),
            }
        }
        #[cfg(not(feature = "encryption"))]
        {
            let _ = (r, id);
            Err(CryptError::Unsupported)
        }
    }

    /// Opens a sealed object whole.
    pub fn open(&self, sealed: &[u8], id: &str) -> Result<Vec<u8>, CryptError> {
        let mut out = Vec::with_capacity(sealed.len());
        self.opener(sealed, id)?
            .read_to_end(&mut out)
            .map_err(|e| CryptError::Damaged {
                id: id.to_string(),
                detail: e.to_string(),
            })?;
        Ok(out)
    }
}

#[cfg(all(test, feature = "encryption"))]
pub(crate) mod tests {
    use super::*;

    /// A fresh age key pair: its recipient's seal and its identity.
    pub(crate) fn pair() -> (Seal, Keys) {
        let id = age::x25519::Identity::generate();
        let public = id.to_public().to_string();
        let secret = age::secrecy::ExposeSecret::expose_secret(&id.to_string()).to_string();
        let seal = Seal::parse(&[public]).expect("recipient");
        let keys = Keys::parse(format!("# test\n{secret}\n").as_bytes(), "test").expect("keys");
        (seal, keys)
    }

    #[test]
    fn sealed_bytes_open_only_with_a_matching_identity_and_only_whole() {
        let (seal, keys) = pair();
        let (_, other) = pair();
        let plain = b"name,ssn\nada,078-05-1120\n".repeat(5000);
        let sealed = seal.seal(&plain).expect("seal");
        assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
        assert!(
            !sealed.windows(11).any(|w| w == b"078-05-1120"),
            "no plaintext in the sealed bytes"
        );
        assert_eq!(keys.open(&sealed, "x").expect("open"), plain);
        assert!(matches!(
            other.open(&sealed, "x"),
            Err(CryptError::NotForYou(_))
        ));
        // A flipped byte in the payload, or a cut, fails authentication.
        let mut bad = sealed.clone();
        let n = bad.len();
        bad[n - 20] ^= 1;
        assert!(matches!(
            keys.open(&bad, "x"),
            Err(CryptError::Damaged { .. })
        ));
        assert!(keys.open(&sealed[..n - 100], "x").is_err());
    }

    #[test]
    fn bad_recipients_and_identities_are_named() {
        let e = Seal::parse(&["age1nope".into()]).expect_err("bad");
        assert!(e.to_string().contains("age1nope"), "{e}");
        let e = Keys::parse(b"AGE-SECRET-KEY-1NOTAKEY\n", "key.txt").expect_err("bad");
        assert!(e.to_string().starts_with("key.txt: "), "{e}");
        let e = Keys::parse(b"# nothing\n", "empty.txt").expect_err("empty");
        assert!(e.to_string().contains("age-keygen"), "{e}");
    }
}
