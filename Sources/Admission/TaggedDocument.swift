/// A signed document with a one-line text form (`TaggedBase64`): access tokens, handed to
/// volunteers as files, and revocation lists, kept by the coordinator as a file.
public protocol TaggedDocument {
    /// The tag that starts the text form and names format and version.
    static var textTag: String { get }
    static var maxEncodedLength: Int { get }
    /// What a decoding error calls the document ("access token").
    static var documentName: String { get }
    /// What a file error calls the file ("token file").
    static var fileName: String { get }

    init(decoding bytes: [UInt8]) throws(AdmissionError)
    var encoded: [UInt8] { get }
}

extension TaggedDocument {
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
            throw error.prefixed(Self.documentName)
        }
        try self.init(decoding: bytes)
    }

    /// Reads and decodes a file holding the text form; errors name the file.
    public init(contentsOfFile path: String) throws(AdmissionError) {
        do throws(AdmissionError) {
            let text = try TaggedBase64.readFile(
                at: path, maxTextBytes: TaggedBase64.maxTextBytes(tag: Self.textTag, maxBytes: Self.maxEncodedLength))
            try self.init(text: text)
        } catch {
            throw error.prefixed("\(Self.fileName) \(path)")
        }
    }
}

extension AccessToken: TaggedDocument {
    public static let documentName = "access token"
    public static let fileName = "token file"
}

extension RevocationList: TaggedDocument {
    public static let documentName = "revocation list"
    public static let fileName = "revocation file"
}
