import Foundation
@testable import Node
import Testing

@Suite struct IdentityFileTests {
    func temporaryPath() -> String {
        NSTemporaryDirectory() + "cohort-identity-\(UUID().uuidString)"
    }

    @Test func createsA0600FileOnFirstStartAndLoadsTheSameIdentityAfter() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let created = try IdentityFile.loadOrCreate(at: path)
        let mode = try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        let loaded = try IdentityFile.loadOrCreate(at: path)
        #expect(loaded.peerID == created.peerID)
        #expect(loaded.publicKey == created.publicKey)
    }

    @Test func refusesAGroupOrWorldReadableFile() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try IdentityFile.loadOrCreate(at: path)
        chmod(path, 0o644)
        let error = #expect(throws: IdentityFile.Error.self) { try IdentityFile.loadOrCreate(at: path) }
        #expect(error?.reason.contains("permissions 644") == true)
    }

    @Test func refusesASymbolicLinkToAKeyFile() throws {
        let path = temporaryPath(), link = temporaryPath()
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: link)
        }
        _ = try IdentityFile.loadOrCreate(at: path)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        let error = #expect(throws: IdentityFile.Error.self) { try IdentityFile.loadOrCreate(at: link) }
        #expect(error?.reason.contains("symbolic link") == true)
    }

    @Test func createsNoKeyThroughADanglingSymbolicLink() throws {
        let target = temporaryPath(), link = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: link) }
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let error = #expect(throws: IdentityFile.Error.self) { try IdentityFile.loadOrCreate(at: link) }
        #expect(error?.reason.contains("symbolic link") == true)
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test(.enabled(if: geteuid() == 0, "only root can give a file to another user"))
    func refusesAFileOfAnotherUser() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try IdentityFile.loadOrCreate(at: path)
        #expect(chown(path, 65534, 65534) == 0)
        let error = #expect(throws: IdentityFile.Error.self) { try IdentityFile.loadOrCreate(at: path) }
        #expect(error?.reason.contains("belongs to uid 65534") == true)
        #expect(error?.reason.contains("chown") == true)
    }

    @Test func refusesAMalformedFile() throws {
        for content in ["", "cohort-ed25519-v1 abcd", "cohort-ed25519-v1 " + String(repeating: "zz", count: 32), "hello"] {
            let path = temporaryPath()
            defer { try? FileManager.default.removeItem(atPath: path) }
            _ = FileManager.default.createFile(atPath: path, contents: Data(content.utf8), attributes: [.posixPermissions: 0o600])
            let error = #expect(throws: IdentityFile.Error.self) { try IdentityFile.loadOrCreate(at: path) }
            #expect(error?.reason.contains("not a Cohort key file") == true)
        }
    }
}
