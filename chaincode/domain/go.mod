module github.com/govshare/ledger/chaincode/domain

go 1.24
