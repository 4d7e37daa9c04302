import Admission
import Foundation
import Testing

@Suite struct AccessTokenTests {
    @Test func tokenRoundTripsThroughBinaryAndTextAndVerifies() throws {
        let token = try Sample.token()
        let decoded = try AccessToken(decoding: token.encoded)
        #expect(decoded == token)
        #expect(decoded.hasValidSignature)
        #expect(try AccessToken(text: Array(token.text.utf8)) == token)
        #expect(token.text.hasPrefix("cohort-access-token-v1 ") && token.text.hasSuffix("\n"))
        #expect(token.encoded.count <= AccessToken.maxEncodedLength)
    }

    @Test func longestTokenHasTheDocumentedLength() throws {
        var claims = Sample.claims(name: String(repeating: "é", count: 32))
        claims.runName = String(repeating: "r", count: 64)
        let token = try AccessToken(signing: claims, with: Sample.runKey)
        #expect(token.encoded.count == AccessToken.maxEncodedLength)
        #expect(AccessToken.maxEncodedLength == 283)
    }

    @Test func issuingRefusesClaimsOutOfBounds() {
        let cases: [(AccessToken.Claims, String)] = [
            (Sample.claims(name: ""), "access token: name is empty"),
            (Sample.claims(name: String(repeating: "x", count: 65)), "access token: name is 65 bytes, more than 64"),
            (Sample.claims(name: "two\nlines"), "access token: name contains a control character"),
            (Sample.claims(name: "gpu\u{202E}exe.1"), "access token: name contains a control character"),
            (Sample.claims(run: ""), "access token: run name is empty"),
            (Sample.claims(expiry: Sample.now - Sample.day), "access token: expiry is not after the time of issue"),
        ]
        for (claims, message) in cases {
            #expect(throws: AdmissionError(message)) { try AccessToken(signing: claims, with: Sample.runKey) }
        }
    }

    @Test func everyTruncationAndAnyTrailingByteIsRefused() throws {
        let bytes = try Sample.token().encoded
        for length in 0..<bytes.count {
            #expect(throws: AdmissionError.self) { try AccessToken(decoding: Array(bytes.prefix(length))) }
        }
        #expect(throws: AdmissionError("access token: 1 bytes after the signature")) { try AccessToken(decoding: bytes + [0]) }
    }

    @Test func malformedFieldsGetOneLineErrorsNamingTheField() throws {
        let bytes = try Sample.token().encoded
        var version = bytes
        version[0] = 2
        #expect(throws: AdmissionError("access token: version 2, expected 1")) { try AccessToken(decoding: version) }
        var longRun = bytes
        longRun[1] = 200
        #expect(throws: AdmissionError("access token: run name: length 200 above maximum 64")) { try AccessToken(decoding: longRun) }
        var badUTF8 = bytes
        badUTF8[2] = 0xFF
        #expect(throws: AdmissionError("access token: run name is not UTF-8")) { try AccessToken(decoding: badUTF8) }
        #expect(throws: AdmissionError("access token: 300 bytes, more than the 283 of any token")) {
            try AccessToken(decoding: [UInt8](repeating: 1, count: 300))
        }
    }

    @Test func textFormRefusesOtherTagsBadBase64AndOversizedFiles() throws {
        #expect(throws: AdmissionError("access token: does not start with \"cohort-access-token-v1 \"")) {
            try AccessToken(text: Array("cohort-ed25519-v1 00".utf8))
        }
        #expect(throws: AdmissionError("access token: is not valid base64 after \"cohort-access-token-v1 \"")) {
            try AccessToken(text: Array("cohort-access-token-v1 !!!!".utf8))
        }
        #expect(throws: AdmissionError("access token: is not UTF-8 text")) { try AccessToken(text: [0xFF, 0xFE]) }
        let huge = Array(("cohort-access-token-v1 " + String(repeating: "A", count: 2000)).utf8)
        #expect(throws: AdmissionError.self) { try AccessToken(text: huge) }
    }

    @Test func tokenFileErrorsNameTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("alice.token").path
        try Data(try Sample.token().text.utf8).write(to: URL(fileURLWithPath: good))
        #expect(try AccessToken(contentsOfFile: good) == Sample.token())
        let missing = folder.appendingPathComponent("absent.token").path
        #expect(throws: AdmissionError("token file \(missing): cannot read \(missing)")) { try AccessToken(contentsOfFile: missing) }
        let wrong = folder.appendingPathComponent("wrong.token").path
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: wrong))
        #expect(throws: AdmissionError("token file \(wrong): access token: does not start with \"cohort-access-token-v1 \"")) {
            try AccessToken(contentsOfFile: wrong)
        }
    }
}
