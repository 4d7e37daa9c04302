import CCryptoBoringSSL

/// AES-256-GCM over caller-provided memory: seals plaintext straight into the send buffer and
/// opens records straight out of the receive buffer.
///
/// swift-crypto's `AES.GCM` returns `Data` and takes its input through `DataProtocol`, which
/// cost three copies of every byte a round sends and receives (a quarter of an all-reduce's
/// CPU). This calls the BoringSSL that swift-crypto builds and links, through its
/// `EVP_AEAD` interface, which reads and writes where it is told. `SecureRecordTests` checks
/// that its records are the ones `AES.GCM` makes.
final class RecordCipher {
    static let tagLength = 16
    static let nonceLength = 12
    /// Allocated once, so BoringSSL sees the same address on every call.
    private let context = UnsafeMutablePointer<EVP_AEAD_CTX>.allocate(capacity: 1)

    init(key: [UInt8]) {
        precondition(key.count == 32, "AES-256-GCM takes a 32-byte key, not \(key.count)")
        context.initialize(to: EVP_AEAD_CTX())
        let initialised = key.withUnsafeBufferPointer { key in
            CCryptoBoringSSL_EVP_AEAD_CTX_init(context, CCryptoBoringSSL_EVP_aead_aes_256_gcm(), key.baseAddress, key.count,
                                               Self.tagLength, nil)
        }
        precondition(initialised == 1, "BoringSSL refused a 32-byte AES-256-GCM key")
    }

    deinit {
        CCryptoBoringSSL_EVP_AEAD_CTX_cleanup(context)
        context.deallocate()
    }

    /// Writes the ciphertext of `plaintext` and then the tag into `sealed` (at least
    /// `plaintext.count + tagLength` bytes).
    func seal(_ plaintext: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer, authenticating header: UnsafeRawBufferPointer,
              into sealed: UnsafeMutableRawBufferPointer) {
        var written = 0
        let result = CCryptoBoringSSL_EVP_AEAD_CTX_seal(
            context, sealed.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, sealed.count,
            nonce.baseAddress?.assumingMemoryBound(to: UInt8.self), nonce.count,
            plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), plaintext.count,
            header.baseAddress?.assumingMemoryBound(to: UInt8.self), header.count)
        precondition(result == 1 && written == plaintext.count + Self.tagLength, "AES-256-GCM sealing failed")
    }

    /// Writes the plaintext of `sealed` (ciphertext then tag) into `plaintext` (at least
    /// `sealed.count - tagLength` bytes); false when the record does not authenticate.
    func open(_ sealed: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer, authenticating header: UnsafeRawBufferPointer,
              into plaintext: UnsafeMutableRawBufferPointer) -> Bool {
        var written = 0
        let result = CCryptoBoringSSL_EVP_AEAD_CTX_open(
            context, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, plaintext.count,
            nonce.baseAddress?.assumingMemoryBound(to: UInt8.self), nonce.count,
            sealed.baseAddress?.assumingMemoryBound(to: UInt8.self), sealed.count,
            header.baseAddress?.assumingMemoryBound(to: UInt8.self), header.count)
        if result != 1 {
            CCryptoBoringSSL_ERR_clear_error()
        }
        return result == 1 && written == sealed.count - Self.tagLength
    }
}
