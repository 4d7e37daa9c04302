/// The coordinator's `revocations` file: `cohort-revocation-list-v1 ` and the list in base64.
extension RevocationList {
    public var text: String {
        TaggedBase64.encode(tag: Self.textTag, encoded)
    }

    public init(text: [UInt8]) throws(AdmissionError) {
        let bytes: [UInt8]
        do throws(AdmissionError) {
            bytes = try TaggedBase64.decode(text, tag: Self.textTag, maxBytes: Self.maxEncodedLength)
        } catch {
            throw error.prefixed("revocation list")
        }
        try self.init(decoding: bytes)
    }

    public init(contentsOfFile path: String) throws(AdmissionError) {
        do throws(AdmissionError) {
            let text = try TaggedBase64.readFile(
                at: path, maxTextBytes: TaggedBase64.maxTextBytes(tag: Self.textTag, maxBytes: Self.maxEncodedLength))
            try self.init(text: text)
        } catch {
            throw error.prefixed("revocation file \(path)")
        }
    }
}
