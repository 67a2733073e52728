// AccountsService
