import Foundation
import GatewayService
import ServiceKit

exit(await EdgeServiceMain.run(GatewayMain.definition))
