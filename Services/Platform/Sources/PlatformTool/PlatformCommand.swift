import Bus
import Foundation
import Models
import ServiceKit
import Store

/// The operator's tool: `platform <command>`. Every command reads its settings from the environment.
public enum PlatformCommand {
    static let usage = """
        usage: platform <command>
          db-provision   create or update each service's login role and schema
                         (DATABASE_ADMIN_URL, DB_PASSWORD_<SERVICE> for every service)
          curve-env      print fresh CURVE keys for every process as env-file lines
          probe URL      exit 0 when GET URL answers 2xx within 2 seconds
          ledger-check   prove billing's ledger: every balance the sum of its entries, the whole
                         summing to zero (the bus settings: BROKER_ENDPOINT, BUS_CURVE_* or BUS_INSECURE)
        """

    /// Runs the command named by `arguments` and returns the process exit status.
    public static func run(_ arguments: [String]) async -> Int32 {
        guard let command = arguments.first else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            return 2
        }
        do {
            switch command {
            case "db-provision":
                try await DatabaseProvisioning.run(environment: ProcessInfo.processInfo.environment)
            case "curve-env":
                print(CurveEnvironment.render(), terminator: "")
            case "probe" where arguments.count == 2:
                return HTTPProbe.get(arguments[1], timeout: 2) ? 0 : 1
            case "ledger-check":
                return try await LedgerCheck.run(environment: ProcessInfo.processInfo.environment)
            default:
                FileHandle.standardError.write(Data((usage + "\n").utf8))
                return 2
            }
            return 0
        } catch {
            FileHandle.standardError.write(Data("platform \(command): \(error)\n".utf8))
            return 1
        }
    }
}

/// Fresh CURVE key pairs for the broker and every other process, as `.env` lines for compose.
///
/// Values are single-quoted: Z85 keys may hold `$`, `{` and `}`, which docker-compose's env-file
/// reader would otherwise expand.
enum CurveEnvironment {
    static let processes = ServiceName.all.map { $0.rawValue.uppercased() } + ["GATEWAY", "INTEGRATION"]

    static func render() -> String {
        let broker = CurveKeyPair.generate()
        var lines = ["BROKER_CURVE_PUBLIC_KEY=\(broker.publicKey)", "BROKER_CURVE_SECRET_KEY=\(broker.secretKey)"]
        var peers: [String] = []
        for name in processes {
            let pair = CurveKeyPair.generate()
            lines.append("\(name)_CURVE_PUBLIC_KEY=\(pair.publicKey)")
            lines.append("\(name)_CURVE_SECRET_KEY=\(pair.secretKey)")
            // The broker admits each key as one process, with that process's policy.
            peers.append("\(name.lowercased())=\(pair.publicKey)")
        }
        lines.append("BUS_CURVE_PEERS=\(peers.joined(separator: ","))")
        return lines.map { line in
            let equals = line.firstIndex(of: "=")!
            return "\(line[..<equals])='\(line[line.index(after: equals)...])'\n"
        }.joined()
    }
}
