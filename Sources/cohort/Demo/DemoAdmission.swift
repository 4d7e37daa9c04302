import Admission
import CohortBase
import Coordinator
import DHT
import Foundation
import Node

/// The demo runs admitted-only, as a real run does: before starting anything it creates the
/// coordinator's key (the run key), and for each volunteer a key and a token signed by it.
struct DemoAdmission {
    let runName: String
    let runKey: PeerIdentity
    let keysFolder: URL

    /// Creates (or reuses) the coordinator's key in `stateDirectory`, where the coordinator
    /// looks for it.
    init(runName: String, stateDirectory: URL, keysFolder: URL) throws {
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: keysFolder, withIntermediateDirectories: true)
        self.runName = runName
        runKey = try IdentityFile.loadOrCreate(at: RunCoordinator.identityPath(in: stateDirectory, override: nil))
        self.keysFolder = keysFolder
    }

    /// A token admitting `identity` for a day, named `name`.
    func token(for identity: PeerIdentity, name: String) throws -> AccessToken {
        let now = SystemClock().now().wall
        let claims = AccessToken.Claims(runName: runName, peerPublicKey: identity.publicKey, name: name,
                                        serial: UInt64.random(in: 1...UInt64.max), issuedAt: now, expiresAt: now + .seconds(86_400))
        return try AccessToken(signing: claims, with: runKey.privateKey)
    }

    /// Writes volunteer `index`'s key file and token file; the arguments that make a peer use them.
    func volunteerArguments(_ index: Int) throws -> [String] {
        let identityPath = keysFolder.appendingPathComponent("peer-\(index).key").path
        let tokenPath = keysFolder.appendingPathComponent("peer-\(index).token").path
        let identity = try IdentityFile.loadOrCreate(at: identityPath)
        try Data(try token(for: identity, name: "demo peer \(index)").text.utf8).write(to: URL(fileURLWithPath: tokenPath))
        return ["--identity", identityPath, "--token", tokenPath]
    }
}
