/// The token file a volunteer receives: `cohort-access-token-v1 ` and the binary token in
/// base64, on one line.
extension AccessToken {
    /// The one-line text form, ending in a newline.
    public var text: String {
        TaggedBase64.encode(tag: Self.textTag, encoded)
    }

    /// Decodes the text form.
    public init(text: [UInt8]) throws(AdmissionError) {
        let bytes: [UInt8]
        do throws(AdmissionError) {
            bytes = try TaggedBase64.decode(text, tag: Self.textTag, maxBytes: Self.maxEncodedLength)
        } catch {
            throw error.prefixed("access token")
        }
        try self.init(decoding: bytes)
    }

    /// Reads and decodes a token file; errors name the file.
    public init(contentsOfFile path: String) throws(AdmissionError) {
        do throws(AdmissionError) {
            let text = try TaggedBase64.readFile(
                at: path, maxTextBytes: TaggedBase64.maxTextBytes(tag: Self.textTag, maxBytes: Self.maxEncodedLength))
            try self.init(text: text)
        } catch {
            throw error.prefixed("token file \(path)")
        }
    }
}
