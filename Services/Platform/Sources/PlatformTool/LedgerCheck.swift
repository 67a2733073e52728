import Bus
import Foundation
import Logging
import Models
import ServiceKit

/// `platform ledger-check`: asks billing, over the bus and as the platform, to prove its ledger
/// (`billing.ledger.check`); prints the answer and exits 0 only when every balance is the sum of
/// its entries and the ledger sums to zero.
enum LedgerCheck {
    static func run(environment: [String: String]) async throws -> Int32 {
        guard let settings = ProcessSettings.load("platform", environment: environment, { ProcessSettings(reading: &$0) }) else {
            return 2
        }
        let logger = Logger(label: "platform")
        let context = settings.busContext(logger: logger)
        let client = MDPClient(context: context, endpoint: settings.endpoints.mdp, curve: settings.curve, logger: logger)
        let answer: Result<Billing.LedgerCheck.Response, any Error>
        do {
            answer = .success(try await BusClient(mdp: client, logger: logger).call(Billing.LedgerCheck.self, Empty(), as: .system))
        } catch {
            answer = .failure(error)
        }
        await client.close()
        await context.shutdown()
        let check = try answer.get()
        let encoder = WireCoding.encoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(check), as: UTF8.self))
        return check.ok ? 0 : 1
    }
}
