import Admission
import CohortBase
import ArgumentParser
import Coordinator
import Foundation
import Trainer

/// `cohort token revoke`: add keys to the run's signed revocation list.
struct TokenRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke volunteer keys: the coordinator publishes the signed list and every peer cuts them off.",
        discussion: """
            Rewrites STATE_DIR/revocations with the next signed list; a running coordinator picks it \
            up within seconds, peers within their refresh interval (15 s). A revoked key stays \
            revoked: the volunteer needs a new identity and token to come back.
            """)

    @OptionGroup var runKey: RunKeyOptions
    @Option(help: "A public key to revoke: 64 hex digits, or a file holding them (repeatable).") var peerKey: [String] = []
    @Option(help: "A token file whose key to revoke (repeatable).") var token: [String] = []

    func validate() throws {
        guard !peerKey.isEmpty || !token.isEmpty else { throw ValidationError("give at least one --peer-key or --token to revoke") }
        for key in peerKey { _ = try PublicKeyArgument.parse(key, option: "--peer-key") }
    }

    func run() throws {
        let key = try runKey.loadRunKey()
        var revoked = try peerKey.map { try PublicKeyArgument.parse($0, option: "--peer-key") }
        for path in token {
            let token = try AccessToken(contentsOfFile: path)
            guard token.claims.runName == runKey.run else {
                throw ValidationError("token file \(path) is for run \(token.claims.runName), not \(runKey.run)")
            }
            revoked.append(token.claims.peerPublicKey)
        }
        guard !revoked.contains(key.publicKey) else { throw ValidationError("the run key itself cannot be revoked") }
        let file = RunCoordinator.revocationFile(in: runKey.stateDirectory)
        let now = SystemClock().now().wall
        let contents = try currentList(at: file, runKey: key.publicKey).map { $0.contentsRevoking(revoked, at: now) }
            ?? RevocationList.Contents(runName: runKey.run, sequence: 1, issuedAt: now,
                                       revokedKeys: Set(revoked).sorted { $0.lexicographicallyPrecedes($1) })
        let list = try RevocationList(signing: contents, with: key.privateKey)
        try FileManager.default.createDirectory(at: runKey.stateDirectory, withIntermediateDirectories: true)
        try AtomicFile.write(Data(list.text.utf8), to: file)
        print("revocation list \(contents.sequence) of run \(runKey.run) revokes \(contents.revokedKeys.count) key(s); written to \(file.path)")
    }

    /// The list in force, which must be this run's and signed by its key.
    private func currentList(at file: URL, runKey publicKey: [UInt8]) throws -> RevocationList? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let list = try RevocationList(contentsOfFile: file.path)
        var rules = AdmissionRules(runName: runKey.run, runPublicKey: publicKey)
        do {
            try rules.apply(list)
        } catch {
            throw ValidationError("\(file.path): \(error); move it away to start a new list")
        }
        return list
    }
}
