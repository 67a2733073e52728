import BrokerService
import Foundation
import ServiceKit

exit(await EdgeServiceMain.run(BrokerMain.definition, environment: BrokerMain.environment()))
