import Foundation
import IntegrationService
import ServiceKit

exit(await EdgeServiceMain.run(IntegrationMain.definition))
